// Package rawio holds the system calls of event loops on non-blocking
// descriptors (Linux): read, write and a zero-timeout epoll wait.
//
// They use RawSyscall, skipping the runtime's syscall bookkeeping. That is
// safe only because these calls never block, and it matters under load: a
// write that takes longer than the scheduler's 20 µs threshold otherwise
// lets sysmon hand the caller's P to another thread, and the caller must
// then queue for a P again (7% of a loaded tracker's CPU).
package rawio
