//! A network namespace joined to this host by a veth pair: a second "host" for tests that need
//! a caller whose address is not loopback (protected mode). Needs root and iproute2; removed
//! on drop. Its traffic never leaves this machine: the pair's /30 is private to the two ends.

use std::net::Ipv4Addr;
use std::process::{Command, Output};

pub struct Netns {
    name: String,
    host_link: String,
    /// This host's end of the pair.
    pub host_ip: Ipv4Addr,
    /// The namespace's end.
    pub ns_ip: Ipv4Addr,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {args:?}: {e} (apt-get install iproute2)"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Netns {
    /// Creates the namespace; `Err` says why (not root, no iproute2, no CAP_NET_ADMIN).
    pub fn create() -> Result<Netns, String> {
        // Names and addresses from the process id and a counter, so parallel tests never meet.
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let tag = (std::process::id() * 8 + n) % 16_000;
        let name = format!("kiwi-t{tag}");
        let (host_link, ns_link) = (format!("kt{tag}a"), format!("kt{tag}b"));
        let base = 4 * tag;
        let octets = |last: u32| {
            let v = base + last;
            Ipv4Addr::new(10, 214, (v >> 8) as u8, (v & 0xff) as u8)
        };
        let (host_ip, ns_ip) = (octets(1), octets(2));
        let ns = Netns {
            name: name.clone(),
            host_link: host_link.clone(),
            host_ip,
            ns_ip,
        };
        ip(&["netns", "add", &name])?;
        ip(&[
            "link", "add", &host_link, "type", "veth", "peer", "name", &ns_link,
        ])?;
        ip(&["link", "set", &ns_link, "netns", &name])?;
        ip(&["addr", "add", &format!("{host_ip}/30"), "dev", &host_link])?;
        ip(&["link", "set", &host_link, "up"])?;
        ip(&[
            "netns",
            "exec",
            &name,
            "ip",
            "addr",
            "add",
            &format!("{ns_ip}/30"),
            "dev",
            &ns_link,
        ])?;
        ip(&["netns", "exec", &name, "ip", "link", "set", &ns_link, "up"])?;
        ip(&["netns", "exec", &name, "ip", "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// Runs `program args...` inside the namespace.
    pub fn run(&self, program: &str, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.name, program])
            .args(args)
            .output()
            .expect("ip netns exec")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = ip(&["link", "del", &self.host_link]);
        let _ = ip(&["netns", "del", &self.name]);
    }
}
