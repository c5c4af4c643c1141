//! What the binary's end-to-end tests share: temporary directories, running
//! the CLI, a tiny division set and grids, free ports, and the server.
#![allow(dead_code)]
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub const BIN: &str = env!("CARGO_BIN_EXE_pingan");

pub fn temp_dir(name: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("pingan-cli-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn pingan(data: &Path, db: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("--data").arg(data);
    if let Some(url) = db {
        cmd.arg("--database-url").arg(url);
    }
    cmd.args(args).env_remove("PINGAN_PERSONAL_DATA_KEYS");
    cmd.output().expect("run pingan")
}

pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "pingan failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn write_divisions(dir: &Path, extra_village: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("provinces.csv"), "code,name\n33,\"浙江省\"\n").unwrap();
    std::fs::write(
        dir.join("cities.csv"),
        "code,name,provinceCode\n3301,\"杭州市\",33\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("areas.csv"),
        "code,name,cityCode,provinceCode\n330102,\"上城区\",3301,33\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("streets.csv"),
        "code,name,areaCode,provinceCode,cityCode\n330102001,\"清波街道\",330102,33,3301\n330102002,\"湖滨街道\",330102,33,3301\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("villages.csv"),
        format!(
            "code,name,streetCode,provinceCode,cityCode,areaCode\n\
             330102001001,\"清波门社区\",330102001,33,3301,330102\n\
             330102002001,\"东坡路社区\",330102002,33,3301,330102\n{extra_village}"
        ),
    )
    .unwrap();
}

pub fn feature(code: &str, x: f64, y: f64) -> Value {
    json!({"type": "Feature", "properties": {"code": code, "name": format!("网格{code}")},
        "geometry": {"type": "Polygon", "coordinates": [[[x,y],[x+0.01,y],[x+0.01,y+0.01],[x,y+0.01],[x,y]]]}})
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Server(pub Child, pub u16);

impl Server {
    pub fn start(data: &Path, db: Option<&str>) -> Server {
        let port = free_port();
        let mut cmd = Command::new(BIN);
        cmd.arg("--data").arg(data);
        if let Some(url) = db {
            cmd.arg("--database-url").arg(url);
        }
        let child = cmd
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env_remove("PINGAN_PERSONAL_DATA_KEYS")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Server(child, port)
    }

    /// SIGTERM, then the server must exit cleanly on its own.
    pub fn stop(mut self) {
        Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .unwrap();
        let status = self.0.wait().unwrap();
        assert!(status.success(), "server exited with {status}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
    }
}
