/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/*
 * What bash and zsh have in common: per-shell state, a command's lines, where it was typed (tty, cwd), its
 * end (exit status), and the shell's own exit/exec (tracepoints).
 *
 * A command is a group of lines read at the prompt (a multi-line `for` loop is several lines) under one id
 * (the ktime of its first line, unique within the process); it ends when the shell's top-level run of it
 * returns (bash: execute_command called from reader_loop; zsh: execode(..., "toplevel")), when the shell
 * goes back to its prompt without such a return (syntax error, Ctrl-C), or when the shell exits or execs.
 *
 * Addresses in the shell (its exit-status variable, reader_loop) are link-time addresses in rodata; the
 * load bias comes from the entry probe: PT_REGS_IP at a uprobe is the probed function's address, and the
 * attach cookie is that function's link-time address, so bias = ip - cookie.
 */
#ifndef ECAP_SHELL_BPF_H
#define ECAP_SHELL_BPF_H

#include "text.bpf.h"

/* link-time address of the shell's exit-status int (bash last_command_exit_value, zsh lastval); 0 unknown */
const volatile __u64 status_vaddr = 0;

struct shell_state {
	__u64 id;       /* command being typed or run; 0 = none */
	__u64 run_sp;   /* stack pointer at the top-level run's entry; 0 = not running one */
	__u64 bias;     /* load bias of the shell binary; valid when has_bias */
	__u32 nlines;   /* lines of `id` sent so far */
	__u32 has_bias;
	__u32 depth;    /* bash without reader_loop: nesting of execute_command */
	__u32 zle_seen; /* zsh: a zleentry(ZLE_CMD_READ) entry was seen */
	__u64 zle_sp;   /* zsh: stack pointer at entry of the zleentry(ZLE_CMD_READ) call in progress */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32); /* tgid */
	__type(value, struct shell_state);
} shells SEC(".maps");

/* dentry name pointers of the cwd walk, leaf first */
#define CWD_MAX_DEPTH 64 /* a power of two (index masks) */
struct cwd_names {
	__u64 name[CWD_MAX_DEPTH];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cwd_names);
} cwd_scratch SEC(".maps");

static __always_inline __u32 cur_tgid(void)
{
	return bpf_get_current_pid_tgid() >> 32;
}

static __always_inline struct shell_state *shell_get(void)
{
	__u32 tgid = cur_tgid();
	return bpf_map_lookup_elem(&shells, &tgid);
}

static __always_inline struct shell_state *shell_get_or_create(void)
{
	__u32 tgid = cur_tgid();
	struct shell_state *st = bpf_map_lookup_elem(&shells, &tgid);
	struct shell_state fresh = {};
	if (st)
		return st;
	if (bpf_map_update_elem(&shells, &tgid, &fresh, BPF_NOEXIST) != 0 && bpf_map_lookup_elem(&shells, &tgid) == NULL) {
		count_drop(DROP_MAP_FULL, 0);
		return NULL;
	}
	return bpf_map_lookup_elem(&shells, &tgid);
}

/* Remember the load bias from an entry uprobe whose cookie is the probed function's link-time address. */
static __always_inline void shell_learn_bias(struct pt_regs *ctx, struct shell_state *st)
{
	__u64 vaddr = bpf_get_attach_cookie(ctx);
	if (vaddr && !st->has_bias) {
		st->bias = PT_REGS_IP(ctx) - vaddr;
		st->has_bias = 1;
	}
}

/* The shell's $? now, or -1 when its address is not known. */
static __always_inline int shell_status(struct shell_state *st)
{
	int v = -1;
	if (!status_vaddr || !st->has_bias)
		return -1;
	if (bpf_probe_read_user(&v, sizeof(v), (void *)(st->bias + status_vaddr)) != 0)
		return -1;
	return v;
}

/* Return address at a function's entry (uprobe), read from user memory. */
static __always_inline __u64 entry_return_address(struct pt_regs *ctx)
{
	__u64 ra = 0;
#if defined(__TARGET_ARCH_x86)
	bpf_probe_read_user(&ra, sizeof(ra), (void *)PT_REGS_SP(ctx));
#elif defined(__TARGET_ARCH_arm64)
	ra = PT_REGS_RET(ctx); /* x30 */
#endif
	return ra;
}

/* Stack pointer a uretprobe sees for the call whose entry saw `entry_sp`. */
static __always_inline __u64 sp_after_return(__u64 entry_sp)
{
#if defined(__TARGET_ARCH_x86)
	return entry_sp + 8; /* ret popped the return address */
#else
	return entry_sp;
#endif
}

/* tty name ("pts3", "tty1") of the current task; returns bytes written at payload[0..], without NUL. */
static __always_inline __u32 put_tty(struct text_event *e)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct tty_struct *tty = BPF_CORE_READ(task, signal, tty);
	long n;
	if (!tty)
		return 0;
	n = bpf_probe_read_kernel_str(e->payload, 64, &tty->name);
	return n > 0 ? (__u32)n - 1 : 0;
}

/*
 * The current task's working directory, written at payload[off..] (without NUL); returns the new offset.
 * bpf_d_path is not allowed in uprobes, so the dentry chain is walked here, crossing mounts through
 * struct mount, up to the task's root (so a chrooted/containerized shell sees its own paths). Deeper than
 * the walk goes (CWD_MAX_DEPTH components with bpf_loop, CWD_FALLBACK_DEPTH without), or longer than
 * 4 KiB: the last components are kept and *partial is set. (Resolving /proc/<pid>/cwd in userspace instead
 * would race with `cd` and with short-lived shells: the event is read after the command ran.)
 * Both loops run as bpf_loop callbacks: as plain bounded loops they exceed the verifier's budget.
 */
#define CWD_FALLBACK_DEPTH 8

struct cwd_walk {
	struct dentry *d;
	struct dentry *root_d;
	struct vfsmount *vm;
	struct vfsmount *root_m;
	struct mount *m;
	__u32 n;
	__u32 complete;
	__u32 off;
	__u32 partial;
};

/* One step up the dentry chain; returns 1 when done. */
static long cwd_up(__u32 i, void *data)
{
	struct cwd_walk *w = data;
	/* locals: CO-RE relocations must apply to kernel types only, not to struct cwd_walk */
	struct dentry *d = w->d, *parent, *mroot;
	struct vfsmount *vm = w->vm;
	struct mount *m = w->m, *mp;
	struct cwd_names *names;
	__u32 zero = 0;

	if (d == w->root_d && vm == w->root_m) {
		w->complete = 1;
		return 1;
	}
	mroot = BPF_CORE_READ(vm, mnt_root);
	parent = BPF_CORE_READ(d, d_parent);
	if (d == mroot || d == parent) {
		/* at the root of this mount: go on from its mountpoint in the parent mount */
		mp = BPF_CORE_READ(m, mnt_parent);
		if (!mp || mp == m) {
			w->complete = 1;
			return 1;
		}
		w->d = BPF_CORE_READ(m, mnt_mountpoint);
		w->m = mp;
		w->vm = (struct vfsmount *)((void *)mp + bpf_core_field_offset(struct mount, mnt));
		return 0;
	}
	names = bpf_map_lookup_elem(&cwd_scratch, &zero);
	if (!names || w->n >= CWD_MAX_DEPTH)
		return 1;
	names->name[w->n & (CWD_MAX_DEPTH - 1)] = (__u64)BPF_CORE_READ(d, d_name.name);
	w->n++;
	w->d = parent;
	return 0;
}

/* Write component i (root first) as "/name"; returns 1 when done. */
static long cwd_put(__u32 i, void *data)
{
	struct cwd_walk *w = data;
	struct cwd_names *names;
	struct text_event *e;
	__u32 zero = 0, k, off = w->off;
	long r;

	if (i >= w->n)
		return 1;
	if (off >= 4096) {
		w->partial = 1;
		return 1;
	}
	names = bpf_map_lookup_elem(&cwd_scratch, &zero);
	e = bpf_map_lookup_elem(&text_scratch, &zero);
	if (!names || !e)
		return 1;
	k = (w->n - 1 - i) & (CWD_MAX_DEPTH - 1);
	e->payload[MASKED(off, 4095)] = '/';
	off++;
	r = bpf_probe_read_kernel_str(&e->payload[MASKED(off, 4095)], 256, (void *)names->name[k]);
	if (r > 1)
		off += (__u32)r - 1;
	w->off = off;
	return 0;
}

static __always_inline __u32 put_cwd(struct text_event *e, __u32 off, __u32 *partial)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fs_struct *fs = BPF_CORE_READ(task, fs);
	struct cwd_walk w = {};
	__u32 i, depth = have_bpf_loop ? CWD_MAX_DEPTH : CWD_FALLBACK_DEPTH;

	if (!fs)
		return off;
	w.d = BPF_CORE_READ(fs, pwd.dentry);
	w.vm = BPF_CORE_READ(fs, pwd.mnt);
	w.root_d = BPF_CORE_READ(fs, root.dentry);
	w.root_m = BPF_CORE_READ(fs, root.mnt);
	w.m = (struct mount *)((void *)w.vm - bpf_core_field_offset(struct mount, mnt));
	w.off = off;
	if (have_bpf_loop) {
		bpf_loop(depth + 16, cwd_up, &w, 0); /* + mount crossings */
	} else {
		for (i = 0; i < CWD_FALLBACK_DEPTH + 4; i++)
			if (cwd_up(i, &w))
				break;
	}
	if (w.n > depth)
		w.n = depth;
	if (!w.complete)
		w.partial = 1;
	if (w.n == 0) {
		if (off < 4096)
			e->payload[MASKED(off, 4095)] = '/';
		*partial = w.partial;
		return off + 1;
	}
	if (have_bpf_loop) {
		bpf_loop(CWD_MAX_DEPTH, cwd_put, &w, 0);
	} else {
		for (i = 0; i < CWD_FALLBACK_DEPTH; i++)
			if (cwd_put(i, &w))
				break;
	}
	*partial = w.partial;
	return w.off;
}

/* Send the end of the current command (if any) and forget it. */
static __always_inline void shell_end(void *ctx, struct shell_state *st, int retval, __u32 how)
{
	struct text_event *e;
	__u64 id = st->id;
	__u32 nlines = st->nlines;

	st->id = 0;
	st->nlines = 0;
	st->run_sp = 0;
	if (!id || !nlines)
		return;
	e = text_begin(EVENT_SHELL, TEXT_SHELL_END, id);
	if (!e)
		return;
	e->retval = retval;
	e->aux = how;
	e->value = nlines;
	e->hdr.flags |= EVF_LAST_CHUNK;
	text_emit(ctx, e);
}

/* A line read at the prompt (`line` = the returned char *, NULL at EOF). */
static __always_inline void shell_line(void *ctx, struct shell_state *st, __u64 line)
{
	struct text_event *e;
	__u32 partial = 0, off;

	if (!line)
		return;
	if (!st->id) {
		st->id = bpf_ktime_get_ns();
		st->nlines = 0;
		/* where it is typed: tty and cwd, once per command */
		e = text_begin(EVENT_SHELL, TEXT_SHELL_CTX, st->id);
		if (e) {
			off = put_tty(e);
			if (off > 63)
				off = 63;
			e->payload[MASKED(off, 63)] = 0;
			off = put_cwd(e, off + 1, &partial);
			e->aux = partial ? CTX_CWD_PARTIAL : 0;
			e->payload_len = off;
			e->hdr.flags |= EVF_LAST_CHUNK;
			text_emit(ctx, e);
		}
	}
	e = text_begin(EVENT_SHELL, TEXT_SHELL_LINE, st->id);
	if (!e)
		return;
	e->aux = st->nlines;
	st->nlines++;
	text_send_str(ctx, e, line);
}

/* The shell process exits (exit builtin, signal, EOF): end its command with the exit status. */
SEC("tracepoint/sched/sched_process_exit")
int tp_shell_exit(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	struct shell_state *st;
	struct task_struct *task;
	int code, status;

	if ((__u32)id != tgid)
		return 0;
	st = bpf_map_lookup_elem(&shells, &tgid);
	if (!st)
		return 0;
	task = (struct task_struct *)bpf_get_current_task();
	code = BPF_CORE_READ(task, exit_code);
	status = (code & 0x7f) ? 128 + (code & 0x7f) : (code >> 8) & 0xff;
	shell_end(ctx, st, status, END_EXIT);
	bpf_map_delete_elem(&shells, &tgid);
	return 0;
}

/* The shell process runs another program (exec builtin): its command ends here. */
SEC("tracepoint/sched/sched_process_exec")
int tp_shell_exec(void *ctx)
{
	__u32 tgid = cur_tgid();
	struct shell_state *st = bpf_map_lookup_elem(&shells, &tgid);
	if (!st)
		return 0;
	shell_end(ctx, st, 0, END_EXEC);
	bpf_map_delete_elem(&shells, &tgid);
	return 0;
}

#endif
