//! TCP_NODELAY on the connections to PostgreSQL.
//!
//! sqlx 0.9.0 stopped setting it (launchbadge/sqlx#4335; fixed upstream by #4336, not in a
//! release as of 2026-12-02). Without it Nagle's algorithm holds the last, small part of a
//! request (a `Bind` of many parameters written in more than one piece) until the server's
//! delayed ACK, 40 ms later: a bulk review of 100 requests waited 40–50 ms before each of its
//! three largest statements (`docs/benchmarks.md`, "A large organization").
//!
//! sqlx gives no access to its socket, so, when a connection opens, this finds the process's
//! TCP sockets whose peer is the database's port and sets the option on each, through a
//! duplicate of the descriptor (`pidfd_getfd` on the process itself: safe code, no raw
//! descriptor borrowed; socket options belong to the socket, not to the descriptor). Setting
//! it on another connection to that port (another pool's) is harmless. Linux only, and a no-op
//! where `pidfd_getfd` is missing (before 5.6) or forbidden. Remove when sqlx sets it again.

/// Sets TCP_NODELAY on every TCP socket of this process connected to `port`; how many.
#[cfg(target_os = "linux")]
pub(crate) fn set_on_sockets_to(port: u16) -> usize {
    use rustix::process::{PidfdFlags, PidfdGetfdFlags, getpid, pidfd_getfd, pidfd_open};

    let Ok(me) = pidfd_open(getpid(), PidfdFlags::empty()) else {
        return 0;
    };
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return 0;
    };
    let mut set = 0;
    for entry in entries.flatten() {
        let Some(number) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let is_socket = std::fs::read_link(entry.path())
            .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"));
        if !is_socket {
            continue;
        }
        let Ok(duplicate) = pidfd_getfd(&me, number, PidfdGetfdFlags::empty()) else {
            continue;
        };
        let socket = socket2::Socket::from(duplicate);
        let to_database = socket.r#type().is_ok_and(|t| t == socket2::Type::STREAM)
            && socket
                .peer_addr()
                .ok()
                .and_then(|a| a.as_socket())
                .is_some_and(|a| a.port() == port);
        if to_database && socket.set_tcp_nodelay(true).is_ok() {
            set += 1;
        }
    }
    set
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn set_on_sockets_to(_port: u16) -> usize {
    0
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn the_sockets_to_the_port_get_nodelay_and_others_do_not() {
        let database = TcpListener::bind("127.0.0.1:0").unwrap();
        let other = TcpListener::bind("127.0.0.1:0").unwrap();
        let to_database = TcpStream::connect(database.local_addr().unwrap()).unwrap();
        let to_other = TcpStream::connect(other.local_addr().unwrap()).unwrap();
        assert!(!to_database.nodelay().unwrap());
        let set = super::set_on_sockets_to(database.local_addr().unwrap().port());
        assert!(set >= 1, "{set}");
        assert!(to_database.nodelay().unwrap());
        assert!(!to_other.nodelay().unwrap());
    }
}
