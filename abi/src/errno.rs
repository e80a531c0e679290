//! Mirrors xen/include/public/errno.h
//!
//! Xen's error numbers. A hypercall that fails returns the negated value in
//! `rax`; [`Errno::to_hypercall_ret`] and [`Errno::from_hypercall_ret`] convert.

macro_rules! errnos {
    ($($name:ident = $value:literal, $doc:literal;)*) => {
        /// A Xen error number (`XEN_E*` of errno.h), positive as in the header.
        #[repr(u16)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Errno {
            $(#[doc = $doc] $name = $value,)*
        }

        impl Errno {
            /// Every error number, in the header's order.
            pub const ALL: &'static [Errno] = &[$(Errno::$name),*];

            /// The header's name, e.g. `"EINVAL"`.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Errno::$name => stringify!($name),)*
                }
            }

            /// The error with this (positive) number, if errno.h defines one.
            pub const fn from_raw(value: u64) -> Option<Errno> {
                match value {
                    $($value => Some(Errno::$name),)*
                    _ => None,
                }
            }
        }
    };
}

errnos! {
    EPERM = 1, "Operation not permitted";
    ENOENT = 2, "No such file or directory";
    ESRCH = 3, "No such process";
    EINTR = 4, "Interrupted system call";
    EIO = 5, "I/O error";
    ENXIO = 6, "No such device or address";
    E2BIG = 7, "Arg list too long";
    ENOEXEC = 8, "Exec format error";
    EBADF = 9, "Bad file number";
    ECHILD = 10, "No child processes";
    EAGAIN = 11, "Try again";
    ENOMEM = 12, "Out of memory";
    EACCES = 13, "Permission denied";
    EFAULT = 14, "Bad address";
    EBUSY = 16, "Device or resource busy";
    EEXIST = 17, "File exists";
    EXDEV = 18, "Cross-device link";
    ENODEV = 19, "No such device";
    ENOTDIR = 20, "Not a directory";
    EISDIR = 21, "Is a directory";
    EINVAL = 22, "Invalid argument";
    ENFILE = 23, "File table overflow";
    EMFILE = 24, "Too many open files";
    ENOSPC = 28, "No space left on device";
    EROFS = 30, "Read-only file system";
    EMLINK = 31, "Too many links";
    EDOM = 33, "Math argument out of domain of func";
    ERANGE = 34, "Math result not representable";
    EDEADLK = 35, "Resource deadlock would occur";
    ENAMETOOLONG = 36, "File name too long";
    ENOLCK = 37, "No record locks available";
    ENOSYS = 38, "Function not implemented";
    ENOTEMPTY = 39, "Directory not empty";
    ENODATA = 61, "No data available";
    ETIME = 62, "Timer expired";
    EBADMSG = 74, "Not a data message";
    EOVERFLOW = 75, "Value too large for defined data type";
    EILSEQ = 84, "Illegal byte sequence";
    ERESTART = 85, "Interrupted system call should be restarted";
    ENOTSOCK = 88, "Socket operation on non-socket";
    EMSGSIZE = 90, "Message too large";
    EOPNOTSUPP = 95, "Operation not supported on transport endpoint";
    EADDRINUSE = 98, "Address already in use";
    EADDRNOTAVAIL = 99, "Cannot assign requested address";
    ENOBUFS = 105, "No buffer space available";
    EISCONN = 106, "Transport endpoint is already connected";
    ENOTCONN = 107, "Transport endpoint is not connected";
    ETIMEDOUT = 110, "Connection timed out";
    ECONNREFUSED = 111, "Connection refused";
}

impl Errno {
    /// `XEN_EWOULDBLOCK` aliases `XEN_EAGAIN`.
    pub const EWOULDBLOCK: Errno = Errno::EAGAIN;
    /// `XEN_EDEADLOCK` aliases `XEN_EDEADLK`.
    pub const EDEADLOCK: Errno = Errno::EDEADLK;

    /// The positive error number.
    pub const fn raw(self) -> u16 {
        self as u16
    }

    /// The value a failing hypercall leaves in `rax`: the negated number as a
    /// 64-bit two's complement (`-EINVAL` is `0xffff_ffff_ffff_ffea`).
    pub const fn to_hypercall_ret(self) -> u64 {
        0u64.wrapping_sub(self as u64)
    }

    /// The error a hypercall's `rax` reports, if it is a negated errno.h value.
    pub const fn from_hypercall_ret(rax: u64) -> Option<Errno> {
        Errno::from_raw(0u64.wrapping_sub(rax))
    }
}

impl core::fmt::Display for Errno {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::Errno;

    #[test]
    fn names_are_the_headers_names() {
        assert_eq!(Errno::EINVAL.name(), "EINVAL");
        assert_eq!(Errno::E2BIG.name(), "E2BIG");
        assert_eq!(Errno::EOPNOTSUPP.name(), "EOPNOTSUPP");
        assert_eq!(Errno::EWOULDBLOCK.name(), "EAGAIN");
    }

    #[test]
    fn values_match_errno_h() {
        assert_eq!(Errno::EPERM.raw(), 1);
        assert_eq!(Errno::EFAULT.raw(), 14);
        assert_eq!(Errno::EINVAL.raw(), 22);
        assert_eq!(Errno::ENOSYS.raw(), 38);
        assert_eq!(Errno::ERESTART.raw(), 85);
        assert_eq!(Errno::ECONNREFUSED.raw(), 111);
        assert_eq!(Errno::ALL.len(), 49);
    }

    #[test]
    fn hypercall_return_is_the_negated_number() {
        assert_eq!(Errno::EINVAL.to_hypercall_ret(), (-22i64).cast_unsigned());
        assert_eq!(Errno::ENOSYS.to_hypercall_ret(), 0xffff_ffff_ffff_ffda);
        for &e in Errno::ALL {
            assert_eq!(Errno::from_hypercall_ret(e.to_hypercall_ret()), Some(e));
        }
    }

    #[test]
    fn success_and_unknown_values_are_not_errors() {
        assert_eq!(Errno::from_hypercall_ret(0), None);
        assert_eq!(Errno::from_hypercall_ret(22), None);
        assert_eq!(Errno::from_hypercall_ret((-15i64).cast_unsigned()), None);
        assert_eq!(Errno::from_raw(15), None);
    }
}
