import { describe, expect, it } from "vitest";
import { errorText } from "./api";

describe("errors as the analyst reads them", () => {
  const e = { kind: "truncated", message: "/models/fin-r1.gguf: the file ends at 2.1 GB of 4.7 GB" };
  it("says what went wrong in the UI's language, then the details", () => {
    expect(errorText(e, "zh")).toBe("模型文件不完整（被截断）：/models/fin-r1.gguf: the file ends at 2.1 GB of 4.7 GB");
    expect(errorText(e, "en")).toBe("The model file is incomplete (truncated): /models/fin-r1.gguf: the file ends at 2.1 GB of 4.7 GB");
  });
  it("keeps the message alone where the kind is unknown, or already said", () => {
    expect(errorText({ kind: "something_new", message: "x" }, "zh")).toBe("x");
    expect(errorText({ kind: "disk_full", message: "The disk is full: 12 MB free" }, "en")).toBe("The disk is full: 12 MB free");
    expect(errorText("plain", "en")).toBe("plain");
  });
  it("says a remote server's error wholly in Chinese in the Chinese window", () => {
    const down = { kind: "remote_unreachable", message: "cannot reach http://10.0.0.5:8000/v1 after 3 attempts: is the server running?" };
    expect(errorText(down, "zh")).toBe("无法连接远程服务器：无法连接 http://10.0.0.5:8000/v1（已尝试 3 次）：服务器是否在运行？");
    expect(errorText(down, "en")).toBe("cannot reach http://10.0.0.5:8000/v1 after 3 attempts: is the server running?");
    const busy = { kind: "remote_server", message: 'the server at http://gpu:8000/v1 failed with HTTP 503 (server said: model "fin-r1" is loading)' };
    expect(errorText(busy, "zh")).toBe('远程服务器出错：http://gpu:8000/v1 出错（HTTP 503）（服务器原话：model "fin-r1" is loading）');
    expect(errorText({ kind: "remote_stream", message: "the answer stream from http://gpu:8000/v1 ended before the answer was complete" }, "zh")).toBe(
      "远程服务器的输出中断：来自 http://gpu:8000/v1 的回答在完成前就结束了",
    );
  });
});
