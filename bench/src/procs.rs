//! Starting and stopping the programs under test, each on its own loopback port.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// A free loopback port.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A child process stopped on drop: asked to stop (SIGTERM, so that nginx's master takes its workers
/// along), then killed if it is still there after two seconds.
pub struct Proc {
    pub child: Child,
    pub url: String,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// Polls `url` until it answers (any status), for up to 30 s.
pub async fn wait_ready(url: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    loop {
        if client.get(url).send().await.is_ok() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{url} did not come up");
        }
        tick.tick().await;
    }
}

/// Trove with its data in `data_dir`.
pub async fn trove(
    bin: &Path,
    data_dir: &Path,
    admin_key: &str,
    jwt_secret: &str,
) -> anyhow::Result<Proc> {
    trove_with(bin, data_dir, admin_key, jwt_secret, &[]).await
}

/// Trove with its data in `data_dir` and more settings.
pub async fn trove_with(
    bin: &Path,
    data_dir: &Path,
    admin_key: &str,
    jwt_secret: &str,
    settings: &[(&str, String)],
) -> anyhow::Result<Proc> {
    let port = free_port()?;
    let child = Command::new(bin)
        .arg("serve")
        .envs(settings.iter().map(|(k, v)| (*k, v.as_str())))
        .env("TROVE_ADDR", format!("127.0.0.1:{port}"))
        .env("TROVE_DATA_DIR", data_dir)
        .env("TROVE_ADMIN_KEY", admin_key)
        .env("TROVE_JWT_SECRET", jwt_secret)
        .env("TROVE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let url = format!("http://127.0.0.1:{port}");
    let proc = Proc { child, url };
    wait_ready(&format!("{}/healthz", proc.url)).await?;
    Ok(proc)
}

/// nginx serving `root` with sendfile, as a practical limit for downloads.
pub async fn nginx(work: &Path, root: &Path) -> anyhow::Result<Proc> {
    let port = free_port()?;
    let prefix = work.join("nginx");
    std::fs::create_dir_all(prefix.join("logs"))?;
    let conf = prefix.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "worker_processes auto;\npid {pid};\nerror_log {log} warn;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n  keepalive_requests 1000000;\n\
               client_body_temp_path {tmp};\n  proxy_temp_path {tmp};\n  fastcgi_temp_path {tmp};\n\
               uwsgi_temp_path {tmp};\n  scgi_temp_path {tmp};\n\
               server {{ listen 127.0.0.1:{port}; root {root}; location / {{ }} }}\n}}\n",
            pid = prefix.join("nginx.pid").display(),
            log = prefix.join("logs/error.log").display(),
            tmp = prefix.join("tmp").display(),
            root = root.display(),
        ),
    )?;
    std::fs::create_dir_all(prefix.join("tmp"))?;
    let bin = ["/usr/sbin/nginx", "nginx"]
        .into_iter()
        .find(|b| Path::new(b).exists() || *b == "nginx")
        .unwrap_or("nginx");
    let child = Command::new(bin)
        .args([
            "-p",
            &prefix.display().to_string(),
            "-c",
            &conf.display().to_string(),
            "-g",
            "daemon off;",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting nginx")?;
    let proc = Proc {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    wait_ready(&proc.url).await?;
    Ok(proc)
}

/// @tus/server with @tus/file-store on Node.js.
pub async fn tus(peers: &Path, store: &Path) -> anyhow::Result<Proc> {
    let port = free_port()?;
    std::fs::create_dir_all(store)?;
    let script: PathBuf = peers.join("tus-server.mjs");
    let child = Command::new("node")
        .arg(&script)
        .arg(port.to_string())
        .arg(store)
        .current_dir(peers)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting @tus/server")?;
    let proc = Proc {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    wait_ready(&format!("{}/files", proc.url)).await?;
    Ok(proc)
}

/// An S3-compatible server (s3s-fs: `S3S_FS_BIN`, else `target/tools/bin/s3s-fs` as `bench/run`
/// installs it) keeping its objects under `root`, with one bucket, `bucket`.
pub async fn s3(root: &Path, bucket: &str, key: &str, secret: &str) -> anyhow::Result<Proc> {
    let bin = std::env::var("S3S_FS_BIN").unwrap_or_else(|_| "target/tools/bin/s3s-fs".into());
    let port = free_port()?;
    std::fs::create_dir_all(root.join(bucket))?;
    let child = Command::new(&bin)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--access-key", key, "--secret-key", secret])
        .arg(root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {bin}"))?;
    let proc = Proc {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    wait_ready(&format!("{}/", proc.url)).await?;
    Ok(proc)
}

/// Peak resident memory of a process since the last [`reset_peak_rss`], in KiB.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Resets a process's peak resident memory counter (Linux `clear_refs` 5).
pub fn reset_peak_rss(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}
