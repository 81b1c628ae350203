//! Load from `wrk` (Debian's package), a compiled generator, for the request-rate scenarios: the
//! harness's own Rust client costs more CPU per request than the servers it measures, and on two
//! cores that would cap every program at the client's speed.
//!
//! Each run gets a Lua script written by the harness: the method, headers and body, and the list of
//! paths to cycle through (one per line in a file beside it). wrk counts responses outside 2xx/3xx
//! and socket errors; both are reported as failures.

use std::path::Path;

use anyhow::{Context, bail};

use crate::load::Stats;

/// One wrk run.
pub struct Wrk<'a> {
    pub base: &'a str,
    pub paths: &'a [String],
    pub connections: usize,
    pub seconds: f64,
    pub method: &'a str,
    pub headers: Vec<(&'a str, String)>,
    /// A request body, sent with every request.
    pub body: Option<&'a [u8]>,
}

fn lua_string(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 4 + 2);
    s.push('"');
    for b in bytes {
        s.push_str(&format!("\\{b:03}"));
    }
    s.push('"');
    s
}

impl Wrk<'_> {
    /// Runs wrk in `dir` (where the script and path list are written) and parses its report.
    pub async fn run(&self, dir: &Path) -> anyhow::Result<Stats> {
        std::fs::create_dir_all(dir)?;
        let list = dir.join("paths.txt");
        std::fs::write(&list, self.paths.join("\n") + "\n")?;
        let mut script = format!("wrk.method = \"{}\"\n", self.method);
        for (name, value) in &self.headers {
            script.push_str(&format!(
                "wrk.headers[\"{name}\"] = {}\n",
                lua_string(value.as_bytes())
            ));
        }
        if let Some(body) = self.body {
            script.push_str(&format!("wrk.body = {}\n", lua_string(body)));
        }
        script.push_str(&format!(
            "local paths = {{}}\nfor line in io.lines(\"{}\") do paths[#paths + 1] = line end\n\
             local i = 0\n\
             function init(args) i = math.random(#paths) end\n\
             function request()\n  i = i % #paths + 1\n  return wrk.format(nil, paths[i])\nend\n",
            list.display()
        ));
        let script_path = dir.join("load.lua");
        std::fs::write(&script_path, script)?;
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .min(self.connections);
        let out = tokio::process::Command::new("wrk")
            .arg(format!("-t{threads}"))
            .arg(format!("-c{}", self.connections))
            .arg(format!("-d{}s", self.seconds.ceil().max(1.0) as u64))
            .arg("--latency")
            .arg("--timeout")
            .arg("10s")
            .arg("-s")
            .arg(&script_path)
            .arg(self.base)
            .output()
            .await
            .context("running wrk (apt-get install wrk)")?;
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            bail!(
                "wrk failed: {}{}",
                text,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        parse(&text).with_context(|| format!("reading wrk's report:\n{text}"))
    }
}

/// A duration as wrk prints it (`812.00us`, `1.23ms`, `2.00s`, `1.5m`), in milliseconds.
fn millis(s: &str) -> Option<f64> {
    let split = s.find(|c: char| c.is_ascii_alphabetic())?;
    let (n, unit) = s.split_at(split);
    let n: f64 = n.parse().ok()?;
    Some(match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        "h" => n * 3_600_000.0,
        _ => return None,
    })
}

/// A size as wrk prints it (`1.23MB`), in bytes.
fn bytes(s: &str) -> Option<u64> {
    let split = s.find(|c: char| c.is_ascii_alphabetic())?;
    let (n, unit) = s.split_at(split);
    let n: f64 = n.parse().ok()?;
    let scale = match unit {
        "B" => 1.0,
        "KB" => 1024.0,
        "MB" => 1024.0 * 1024.0,
        "GB" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some((n * scale) as u64)
}

fn parse(text: &str) -> anyhow::Result<Stats> {
    let (mut requests, mut seconds, mut read, mut failures) = (None, None, 0u64, 0u64);
    let (mut p50, mut p99) = (None, None);
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["50%", v] => p50 = millis(v),
            ["99%", v] => p99 = millis(v),
            [n, "requests", "in", d, size, "read"] => {
                requests = n.parse::<u64>().ok();
                seconds = millis(d.trim_end_matches(',')).map(|ms| ms / 1000.0);
                read = bytes(size).unwrap_or(0);
            }
            ["Non-2xx", "or", "3xx", "responses:", n] => failures += n.parse::<u64>()?,
            ["Socket", "errors:", rest @ ..] => {
                for n in rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                {
                    failures += n;
                }
            }
            _ => {}
        }
    }
    Ok(Stats {
        requests: requests.context("no request count")?,
        failures,
        bytes: read,
        seconds: seconds.context("no duration")?,
        p50_ms: p50.unwrap_or(0.0),
        p99_ms: p99.context("no 99th percentile")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_report() {
        let s = parse(
            "Running 5s test @ http://127.0.0.1:1/\n  2 threads and 32 connections\n\
             \x20 Latency Distribution\n     50%  812.00us\n     75%    1.10ms\n     99%    3.21ms\n\
             \x20 24001 requests in 5.01s, 98.60MB read\n  Non-2xx or 3xx responses: 3\n\
             \x20 Socket errors: connect 0, read 1, write 0, timeout 2\nRequests/sec:   4790.6\n",
        )
        .unwrap();
        assert_eq!(s.requests, 24001);
        assert_eq!(s.failures, 6);
        assert!((s.p99_ms - 3.21).abs() < 1e-9);
        assert!((s.p50_ms - 0.812).abs() < 1e-9);
        assert!((s.seconds - 5.01).abs() < 1e-9);
        assert_eq!(s.bytes, (98.60 * 1024.0 * 1024.0) as u64);
    }
}
