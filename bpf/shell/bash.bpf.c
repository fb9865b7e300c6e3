/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/*
 * bash: the lines typed at the prompt and each command's exit status.
 *
 *   uretprobe readline_internal_teardown (or readline when that is not exported)
 *                             (bash itself when readline is built in, as on Debian; else libreadline.so)
 *                             a line read at the prompt; lines read while a command runs (read -e) are not
 *                             commands and are skipped. readline() itself would miss the first line of a
 *                             bash already waiting at its prompt when the capture starts (the return of a
 *                             call in progress is not hooked); the teardown is called after Enter
 *   uprobe/uretprobe execute_command
 *                             the top-level run of a command: the call made by reader_loop (its return
 *                             address lies in reader_loop), matched with its return by the stack pointer, so
 *                             nested calls (loops, lists, PROMPT_COMMAND, completion functions) do not count;
 *                             its return value is the command's exit status
 *   uprobe read_command       reader_loop starts reading the next command: a command still open was not run
 *                             (syntax error: $? = 2, Ctrl-C: 130) or its run was left by longjmp; $? is read
 *                             from last_command_exit_value
 * plus the exit/exec tracepoints of shell.bpf.h (exit builtin, exec builtin).
 * Without reader_loop in the symbol table, the outermost execute_command counts as the top-level run.
 */
#include "shell.bpf.h"

/* link-time address and size of reader_loop; 0 = unknown */
const volatile __u64 reader_loop_vaddr = 0;
const volatile __u64 reader_loop_size = 0;

/* char *readline_internal_teardown(int eof) / char *readline(const char *prompt) */
SEC("uretprobe")
int BPF_KRETPROBE(uretprobe_readline, void *line)
{
	struct shell_state *st;

	if (!line || !pass_filter())
		return 0;
	st = shell_get_or_create();
	if (!st)
		return 0;
	if (st->run_sp || (!reader_loop_vaddr && st->depth))
		return 0; /* read by a running command, not at the prompt */
	shell_line(ctx, st, (__u64)line);
	return 0;
}

/* int execute_command(COMMAND *command); the attach cookie is its link-time address */
SEC("uprobe")
int BPF_KPROBE(uprobe_execute_command)
{
	struct shell_state *st = shell_get();
	__u64 ra;

	if (!st)
		return 0;
	shell_learn_bias(ctx, st);
	if (reader_loop_vaddr && st->has_bias) {
		ra = entry_return_address(ctx) - st->bias;
		if (ra >= reader_loop_vaddr && ra < reader_loop_vaddr + reader_loop_size)
			st->run_sp = PT_REGS_SP(ctx);
	} else {
		if (st->depth == 0)
			st->run_sp = PT_REGS_SP(ctx);
		st->depth++;
	}
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(uretprobe_execute_command, int ret)
{
	struct shell_state *st = shell_get();

	if (!st)
		return 0;
	if (st->depth)
		st->depth--;
	if (st->run_sp && PT_REGS_SP(ctx) == sp_after_return(st->run_sp))
		shell_end(ctx, st, ret, END_EXECUTED);
	return 0;
}

/* COMMAND *read_command(void): called by reader_loop only, before the next command's lines are read */
SEC("uprobe")
int BPF_KPROBE(uprobe_read_command)
{
	struct shell_state *st = shell_get();

	if (!st)
		return 0;
	shell_learn_bias(ctx, st);
	if (st->id)
		shell_end(ctx, st, shell_status(st), END_NOT_RUN);
	st->run_sp = 0;
	st->depth = 0; /* a longjmp (Ctrl-C) may have skipped returns */
	return 0;
}
