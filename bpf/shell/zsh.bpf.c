/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/*
 * zsh: the lines typed at the prompt and each command's exit status.
 *
 *   uprobe/uretprobe zleentry  zleentry(ZLE_CMD_READ, ...) returns the line the line editor read (with its
 *                              newline); other zleentry commands are ignored; matched entry/return by the
 *                              stack pointer
 *   uprobe/uretprobe execode   execode(prog, dont_change_job, exiting, "toplevel") is loop()'s run of the
 *                              command just parsed; when it returns, lastval is the command's status
 *   uprobe parse_event         loop() starts parsing the next command: a command still open was not run
 *                              (parse error), $? = lastval
 *   uretprobe zlegetline       (zle.so) zleread's copy of the finished line: used only until the first
 *                              zleentry(ZLE_CMD_READ) entry is seen, for a zsh that was already waiting at
 *                              its prompt when the capture started (the return of a call in progress is
 *                              not hooked, so its line would be lost)
 * plus the exit/exec tracepoints of shell.bpf.h.
 */
#include "shell.bpf.h"

#define ZLE_CMD_READ 1 /* zsh.h: enum { ZLE_CMD_GET_LINE, ZLE_CMD_READ, ... } */

/* char *zleentry(int cmd, ...) */
SEC("uprobe")
int BPF_KPROBE(uprobe_zleentry, int cmd)
{
	struct shell_state *st;

	if (cmd != ZLE_CMD_READ || !pass_filter())
		return 0;
	st = shell_get_or_create();
	if (st) {
		st->zle_sp = PT_REGS_SP(ctx);
		st->zle_seen = 1;
	}
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(uretprobe_zleentry, void *line)
{
	struct shell_state *st = shell_get();

	if (!st || !st->zle_sp || PT_REGS_SP(ctx) != sp_after_return(st->zle_sp))
		return 0;
	st->zle_sp = 0;
	if (st->run_sp)
		return 0; /* read by a running command, not at the prompt */
	shell_line(ctx, st, (__u64)line);
	return 0;
}

/* char *zlegetline(int *ll, int *cs) in zle.so */
SEC("uretprobe")
int BPF_KRETPROBE(uretprobe_zlegetline, void *line)
{
	struct shell_state *st;

	if (!line || !pass_filter())
		return 0;
	st = shell_get_or_create();
	if (!st || st->zle_seen || st->run_sp)
		return 0; /* zleentry calls are seen already: that hook has the line */
	st->zle_seen = 1;
	shell_line(ctx, st, (__u64)line);
	return 0;
}

/* void execode(Eprog p, int dont_change_job, int exiting, char *context); cookie = its link-time address */
SEC("uprobe")
int BPF_KPROBE(uprobe_execode, void *prog, int dont_change_job, int exiting, const char *context)
{
	struct shell_state *st = shell_get();
	char c[9] = {};

	if (!st)
		return 0;
	shell_learn_bias(ctx, st);
	if (st->run_sp || !context)
		return 0;
	if (bpf_probe_read_user(c, sizeof(c), context) != 0)
		return 0;
	if (c[0] == 't' && c[1] == 'o' && c[2] == 'p' && c[3] == 'l' && c[4] == 'e' && c[5] == 'v' && c[6] == 'e' &&
	    c[7] == 'l' && c[8] == 0)
		st->run_sp = PT_REGS_SP(ctx);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(uretprobe_execode)
{
	struct shell_state *st = shell_get();

	if (!st || !st->run_sp || PT_REGS_SP(ctx) != sp_after_return(st->run_sp))
		return 0;
	shell_end(ctx, st, shell_status(st), END_EXECUTED);
	return 0;
}

/* Eprog parse_event(int endtok) */
SEC("uprobe")
int BPF_KPROBE(uprobe_parse_event)
{
	struct shell_state *st = shell_get();

	if (!st)
		return 0;
	shell_learn_bias(ctx, st);
	if (st->run_sp)
		return 0; /* a file sourced by the running command */
	if (st->id)
		shell_end(ctx, st, shell_status(st), END_NOT_RUN);
	return 0;
}
