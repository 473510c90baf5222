// The remote server's errors in Chinese: the core writes them in English (the CLI, the logs and
// the API share them); a Chinese window showed a Chinese headline over English details. Each
// sentence the core writes (core/src/remote.rs) has its Chinese here; the server's own words,
// URLs and model names stay as they are.

const SAID = / \(server said: (.*)\)$/s;

const RULES: [RegExp, (m: RegExpMatchArray) => string][] = [
  [/^cannot reach (\S+) after (\d+) attempts: is the server running\?$/, (m) => `无法连接 ${m[1]}（已尝试 ${m[2]} 次）：服务器是否在运行？`],
  [/^(\S+) did not answer in time$/, (m) => `${m[1]} 未在时限内应答`],
  [/^request to (\S+) failed: (.*)$/s, (m) => `向 ${m[1]} 发出的请求失败（${m[2]}）`],
  [/^the server at (\S+) refused the API key$/, (m) => `${m[1]} 拒绝了 API 密钥`],
  [/^the server at (\S+) has no model (".*") or no such endpoint$/s, (m) => `${m[1]} 没有模型 ${m[2]}，或没有这个接口`],
  [/^the server rejected the request$/, () => "服务器拒绝了这个请求"],
  [/^the server at (\S+) is busy \(too many requests\)$/, (m) => `${m[1]} 繁忙（请求过多）`],
  [/^the server at (\S+) failed with HTTP (\d+)$/, (m) => `${m[1]} 出错（HTTP ${m[2]}）`],
  [/^unexpected HTTP (\d+) from (\S+)$/, (m) => `${m[2]} 返回了意外的 HTTP ${m[1]}`],
  [/^the answer stream from (\S+) broke: (.*)$/s, (m) => `来自 ${m[1]} 的回答流中断（${m[2]}）`],
  [/^the answer stream from (\S+) ended before the answer was complete$/, (m) => `来自 ${m[1]} 的回答在完成前就结束了`],
  [/^the server reported an error: (.*)$/s, (m) => `服务器报告错误：${m[1]}`],
  [/^the server sent something that is not JSON(.*)$/s, (m) => `服务器返回的内容不是 JSON${m[1]}`],
];

/** A remote server's error in Chinese, or null when it is not one the core writes. */
export function remoteInChinese(message: string): string | null {
  const said = message.match(SAID);
  const sentence = said ? message.slice(0, said.index) : message;
  for (const [pattern, say] of RULES) {
    const m = sentence.match(pattern);
    if (m) return say(m) + (said ? `（服务器原话：${said[1]}）` : "");
  }
  return null;
}
