/*
 * [guard] io_uring = block: a seccomp filter that makes io_uring_setup fail
 * with ENOSYS (never one that kills), so libuv and others fall back to
 * plain syscalls that the hooks see.  Installing a filter needs
 * no_new_privs (set here; it also stops set-uid execs gaining privilege).
 * Constructor only.
 */
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "event.h"
#include "guard.h"

#if defined(__x86_64__)
#define UG_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define UG_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

void ug__block_io_uring(void)
{
#ifdef UG_AUDIT_ARCH
	struct sock_filter f[] = {
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		     offsetof(struct seccomp_data, arch)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, UG_AUDIT_ARCH, 1, 0),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		     offsetof(struct seccomp_data, nr)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {
	    .len = (unsigned short)(sizeof(f) / sizeof(f[0])),
	    .filter = f,
	};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    real_syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
			 SECCOMP_FILTER_FLAG_TSYNC, &prog) < 0)
		ug__diag("io_uring = block: cannot install the seccomp filter "
			 "(%s); io_uring stays available and unguarded",
			 strerror(errno));
#else
	ug__diag("io_uring = block is not supported on this architecture");
#endif
}
