//! The open-file limit, and the connection limit sized from it. Every client
//! connection, upstream connection and listener is a descriptor; a gateway at
//! the limit can accept nothing, so the connection limit stays below it.

/// Highest soft limit asked for, even when the hard limit is higher.
const MAX_OPEN_FILES: u64 = 1 << 20;
pub use crate::worker::capacity::DEFAULT_MAX_CONNECTIONS;

/// Raise the soft open-file limit to the hard one (bounded); returns the limit
/// in force afterwards.
pub fn raise() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a valid rlimit out-pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 1024;
    }
    let wanted = lim.rlim_max.min(MAX_OPEN_FILES);
    if wanted > lim.rlim_cur {
        let raised = libc::rlimit {
            rlim_cur: wanted,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: a valid rlimit; raising the soft limit up to the hard one is allowed.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            tracing::debug!(
                from = lim.rlim_cur,
                to = wanted,
                "raised the open-file limit"
            );
            return wanted;
        }
    }
    lim.rlim_cur
}

/// The connection limit: the configured one, else [`DEFAULT_MAX_CONNECTIONS`]
/// held to three quarters of the open-file limit so that upstream
/// connections, listeners and files keep a quarter.
pub fn max_connections(configured: Option<usize>, open_files: u64) -> usize {
    let fits = usize::try_from(open_files / 4 * 3)
        .unwrap_or(usize::MAX)
        .max(1);
    match configured {
        Some(n) => {
            if n > fits {
                tracing::warn!(
                    max_connections = n,
                    open_file_limit = open_files,
                    "limits.max_connections is close to or above the open-file limit; new connections may fail with EMFILE before the limit is reached"
                );
            }
            n
        }
        None => DEFAULT_MAX_CONNECTIONS.min(fits),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn automatic_limit_leaves_a_quarter_of_the_descriptors() {
        assert_eq!(max_connections(None, 1024), 768);
        assert_eq!(max_connections(None, 1 << 20), DEFAULT_MAX_CONNECTIONS);
        assert_eq!(max_connections(Some(50_000), 1024), 50_000);
    }

    #[test]
    fn raising_never_lowers_the_limit() {
        let before = {
            let mut lim = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
            lim.rlim_cur
        };
        assert!(raise() >= before);
    }
}
