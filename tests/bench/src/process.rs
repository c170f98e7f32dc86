//! The operator as a process of its own, as in production: spawned, its
//! HTTP endpoints polled, its memory and CPU read from /proc.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

pub struct Operator {
    child: Child,
    pub pid: u32,
    pub addr: String,
    pub started: Instant,
    pub args: Vec<String>,
}

impl Operator {
    /// Spawns `binary run ARGS`. Call it from the main thread: the child is
    /// killed when the thread that spawned it ends (PR_SET_PDEATHSIG), so a
    /// crashed benchmark leaves no operator behind.
    pub fn spawn(
        binary: &Path,
        kubeconfig: &Path,
        endpoint_url: &str,
        extra: &[String],
        log: &Path,
    ) -> anyhow::Result<Operator> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let addr = format!("127.0.0.1:{port}");
        let mut args: Vec<String> = [
            "run",
            "--region",
            "us-east-1",
            "--endpoint-url",
            endpoint_url,
            "--http-addr",
            &addr,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().cloned());
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)?;
        let mut cmd = Command::new(binary);
        cmd.args(&args)
            .env("KUBECONFIG", kubeconfig)
            .env("AWS_ACCESS_KEY_ID", "AKIDBENCH")
            .env("AWS_SECRET_ACCESS_KEY", "bench-secret")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .kill_on_drop(true);
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let started = Instant::now();
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let pid = child.id().context("operator exited at once")?;
        Ok(Operator {
            child,
            pid,
            addr,
            started,
            args,
        })
    }

    /// GET a path of the operator's HTTP server: (status, body).
    pub async fn get(&self, path: &str) -> anyhow::Result<(u16, String)> {
        testworld::http_get(&self.addr, path).await
    }

    /// A metric summed over all its label sets; 0 when absent.
    pub async fn metric(&self, name: &str) -> anyhow::Result<f64> {
        let (_, text) = self.get("/metrics").await?;
        Ok(text
            .lines()
            .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum())
    }

    pub async fn reconciles(&self) -> anyhow::Result<f64> {
        self.metric("chime_operator_reconciles_total").await
    }

    /// Polls `path` every 10 ms until it answers 200; returns the time since
    /// the process was spawned.
    pub async fn wait_ok(&mut self, path: &str, timeout: Duration) -> anyhow::Result<Duration> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("the operator exited with {status} before {path} answered 200");
            }
            if matches!(self.get(path).await, Ok((200, _))) {
                return Ok(self.started.elapsed());
            }
            if Instant::now() > deadline {
                bail!("{path} did not answer 200 within {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub fn usage(&self) -> anyhow::Result<Usage> {
        Usage::of(self.pid)
    }

    /// SIGTERM, then SIGKILL if it has not exited within 15 s.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.pid as i32, libc::SIGTERM);
        }
        if tokio::time::timeout(Duration::from_secs(15), self.child.wait())
            .await
            .is_err()
        {
            eprintln!("bench: the operator ignored SIGTERM for 15 s; killing it");
            self.child.kill().await?;
        }
        Ok(())
    }
}

/// A process's memory and CPU time, from /proc.
#[derive(Clone, Copy, Debug, Default)]
pub struct Usage {
    /// Peak resident set size (VmHWM), bytes.
    pub peak_rss: u64,
    /// Current resident set size (VmRSS), bytes.
    pub rss: u64,
    /// utime + stime, seconds.
    pub cpu: f64,
}

impl Usage {
    pub fn of(pid: u32) -> anyhow::Result<Usage> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let kb = |field: &str| -> anyhow::Result<u64> {
            let line = status
                .lines()
                .find(|l| l.starts_with(field))
                .with_context(|| format!("no {field} in /proc/{pid}/status"))?;
            let n: u64 = line[field.len()..]
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()?;
            Ok(n * 1024)
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
        // Fields after the command name, which is in parentheses and may hold
        // spaces; utime and stime are fields 14 and 15 of the whole line.
        let rest = &stat[stat.rfind(')').context("bad /proc stat")? + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        Ok(Usage {
            peak_rss: kb("VmHWM:")?,
            rss: kb("VmRSS:")?,
            cpu: ticks as f64 / hz,
        })
    }
}

/// CPU seconds (utime + stime) of every process whose command line holds
/// `needle`; for the control plane, whose processes name its folder.
pub fn cpu_of_matching(needle: &str) -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
        })
        .filter_map(|pid| Usage::of(pid).ok())
        .map(|u| u.cpu)
        .sum()
}

pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Where each operator process writes its log.
pub fn log_path(out: &Path, n: usize) -> PathBuf {
    out.join(format!("operator-{n}.log"))
}
