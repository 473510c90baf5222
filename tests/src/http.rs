//! The smallest HTTP server side the tests' stub OpenAI servers need: read one request.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;

/// Reads one request's head and body (at most 1 MB of it) and gives the stream back to answer on.
pub fn read_request(stream: TcpStream) -> (TcpStream, Vec<u8>) {
    let mut reader = BufReader::new(stream);
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; length.min(1 << 20)];
    let _ = reader.read_exact(&mut body);
    (reader.into_inner(), body)
}
