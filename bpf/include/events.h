/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/*
 * THE wire contract between the kernel programs and userspace: every struct and enum sent through a ring
 * or perf buffer is defined here and nowhere else. TypeScript gets these layouts only through
 * src/gen/events.ts, generated from the compiled objects' BTF (scripts/gen-events.ts).
 *
 * Rules: fixed-width types only; enums travel in __u32 fields; padding is explicit; a variable-length
 * payload comes last, with its length field before it, and the reader trusts only the sample length.
 */
#ifndef ECAP_EVENTS_H
#define ECAP_EVENTS_H

#define ECAP_COMM_LEN 16
/* payload bytes carried by one data event; a larger read/write arrives as several chunks, in order */
#define ECAP_MAX_CHUNK 16384
/* chunks one call may produce (4 MiB); bytes past that are counted as lost and show as a gap */
#define ECAP_MAX_CHUNKS 256
#define ECAP_MAX_PATH 256

enum event_kind {
	EVENT_TLS_DATA = 1,      /* struct tls_data_event */
	EVENT_PROC_EXEC = 2,     /* struct proc_exec_event */
	EVENT_PROC_EXIT = 3,     /* struct proc_exec_event */
	EVENT_CONN_BIND = 4,     /* struct conn_bind_event: a TLS object learned its socket */
	EVENT_MASTER_SECRET = 5, /* reserved for the keys work */
	EVENT_PACKET = 6,        /* reserved for the packets work */
	EVENT_SHELL = 7,         /* reserved for the shell audit */
	EVENT_QUERY = 8,         /* reserved for the database audit */
	EVENT_GO_KEYLOG = 9,     /* reserved for gotls keys */
	EVENT_CONN_CLOSE = 10,   /* struct conn_close_event: the library freed a connection object */
};

enum data_dir {
	DIR_READ = 0,  /* received by the traced process */
	DIR_WRITE = 1, /* sent by the traced process */
};

/* event_hdr.flags */
enum event_flags {
	EVF_TUPLE = 1 << 0,     /* tuple is valid */
	EVF_LAST_CHUNK = 1 << 1, /* last chunk of this read/write call */
	EVF_FD_NESTED = 1 << 2, /* fd was seen in a syscall made inside the TLS call */
	EVF_TRUNCATED = 1 << 3, /* the call was longer than ECAP_MAX_CHUNKS chunks; the rest was not sent */
};

/* Indexes of the per-CPU `drops` counters. */
enum drop_reason {
	DROP_RINGBUF_FULL = 0, /* output failed: ring/perf buffer full */
	DROP_READ_FAULT = 1,   /* bpf_probe_read_user failed on the payload */
	DROP_TRUNCATED = 2,    /* call longer than ECAP_MAX_CHUNKS chunks */
	DROP_MAP_FULL = 3,     /* a tracking map was full */
	DROP_REASONS = 4,
};

struct drop_counter {
	__u64 events;
	__u64 bytes;
};

/* Value of the live_filter_map array (userspace writes it to change filters while running). */
struct live_filter {
	__u32 active; /* 0: use the rodata filter */
	__u32 flags;  /* FILTER_PID | FILTER_UID | FILTER_CGROUP */
	__u32 pid;
	__u32 uid;
	__u64 cgroup_id;
};

/* First member of every event. */
struct event_hdr {
	__u32 kind;      /* enum event_kind */
	__u32 flags;     /* enum event_flags */
	__u64 ts_ns;     /* bpf_ktime_get_ns(): CLOCK_MONOTONIC; userspace adds the wall-clock offset */
	__u32 pid;       /* tgid */
	__u32 tid;
	__u32 uid;
	__u32 cpu;
	__u64 cgroup_id;
	char comm[ECAP_COMM_LEN];
};

/* A connection's endpoints as seen by the traced process (local = its own socket address). */
struct sock_tuple {
	__u16 family; /* AF_INET 2, AF_INET6 10, other families: no addresses; 0 = unknown */
	__u16 lport;  /* host byte order */
	__u16 rport;  /* host byte order */
	__u16 _pad;
	__u8 laddr[16]; /* IPv4 in the first 4 bytes */
	__u8 raddr[16];
};

/* Plaintext of one TLS read/write call, or one chunk of it. */
struct tls_data_event {
	struct event_hdr hdr;
	__u64 conn_id;     /* the library's connection object (SSL*, gnutls_session_t, PRFileDesc*) */
	__u64 seq;         /* stream position of payload[0] for (pid, conn_id, dir) */
	__s32 fd;          /* -1 when not known yet */
	__u32 dir;         /* enum data_dir */
	__u32 lib_id;      /* attach cookie: which hooked library file (userspace table) */
	__u32 call_len;    /* bytes the whole call returned */
	__u32 chunk_off;   /* offset of this chunk within the call */
	__u32 payload_len; /* bytes in payload[] */
	struct sock_tuple tuple;
	__u8 payload[ECAP_MAX_CHUNK];
};

/* A TLS connection object learned its socket after data already flowed (e.g. memory-BIO users like node). */
struct conn_bind_event {
	struct event_hdr hdr;
	__u64 conn_id;
	__s32 fd;
	__u32 lib_id;
	struct sock_tuple tuple;
};

/* The library freed a connection object: its final stream positions reveal bytes lost at the end. */
struct conn_close_event {
	struct event_hdr hdr;
	__u64 conn_id;
	__u64 seq[2]; /* per enum data_dir: bytes the calls returned in total */
	__s32 fd;
	__u32 lib_id;
	struct sock_tuple tuple;
};

/* Process exec and exit, for discovering new TLS libraries and forgetting processes. */
struct proc_exec_event {
	struct event_hdr hdr;
	__u32 ppid;
	__u32 exit_code;
	char filename[ECAP_MAX_PATH];
};

/* ---- keys and packets (tls keylog/pcap modes): add structs below this line ---- */

/* master_secret_event.ms_flags */
enum ms_flags {
	MS_BORINGSSL = 1 << 0, /* read with a BoringSSL layout (secrets are traffic secrets, hash_len is set) */
	MS_SERVER = 1 << 1,    /* the traced side is the TLS server (when the layout tells) */
	MS_HS_SNAPSHOT = 1 << 2, /* TLS 1.3 secrets come from a snapshot taken during the handshake */
};

/* master_secret_event.source: which hook found the handshake complete */
enum ms_source {
	MS_SRC_HANDSHAKE = 1, /* SSL_do_handshake returned 1 */
	MS_SRC_IO = 2,        /* entry of SSL_write (or _ex): the handshake completed earlier, maybe inside SSL_read/write */
};

#define ECAP_SECRET_LEN 64

/*
 * The TLS secrets of one connection, read from the library's own structs (offsets: struct lib_offsets) once
 * its handshake is complete; sent once per connection and client_random. Unset members are zero.
 * TLS <= 1.2: master_key. TLS 1.3: OpenSSL keeps handshake_secret + handshake_traffic_hash (userspace derives
 * the handshake traffic secrets with HKDF) and the application secrets; BoringSSL keeps the handshake and
 * application traffic secrets themselves (hash_len bytes of each are meaningful).
 */
struct master_secret_event {
	struct event_hdr hdr;
	__u64 conn_id;   /* the SSL* */
	__u32 lib_id;    /* attach cookie: which hooked file */
	__u32 version;   /* negotiated protocol version: 0x0300..0x0303, 0x0304 = TLS 1.3 */
	__u32 cipher_id; /* SSL_CIPHER.id (0x0300xxxx) or SSL_SESSION.cipher_id; 0 if unknown */
	__u32 hash_len;  /* BoringSSL SSL_HANDSHAKE.hash_len_; 0 = unknown (use the cipher suite) */
	__u32 ms_flags;  /* enum ms_flags */
	__u32 source;    /* enum ms_source */
	__u8 client_random[32];
	__u8 master_key[48];
	__u8 early_secret[ECAP_SECRET_LEN];            /* OpenSSL early_secret; BoringSSL early_traffic_secret_ */
	__u8 handshake_secret[ECAP_SECRET_LEN];        /* OpenSSL */
	__u8 handshake_traffic_hash[ECAP_SECRET_LEN];  /* OpenSSL: Hash(ClientHello..ServerHello) */
	__u8 client_handshake_secret[ECAP_SECRET_LEN]; /* BoringSSL */
	__u8 server_handshake_secret[ECAP_SECRET_LEN]; /* BoringSSL */
	__u8 client_app_traffic_secret[ECAP_SECRET_LEN];
	__u8 server_app_traffic_secret[ECAP_SECRET_LEN];
	__u8 exporter_master_secret[ECAP_SECRET_LEN];
};

/* Largest frame the TC programs copy (64 KiB loopback/GSO frames plus link headers); longer ones are cut. */
#define ECAP_MAX_PACKET 65792

/* packet_event.pkt_flags */
enum pkt_flags {
	PKT_EGRESS = 1 << 0,     /* seen by the egress hook (else ingress) */
	PKT_OWNER = 1 << 1,      /* hdr names the process owning the packet's local socket */
	PKT_SENDER = 1 << 2,     /* ... and that socket is the packet's source (else its destination) */
	PKT_PEER_OWNER = 1 << 3, /* peer_pid: the other end is a local process too (loopback) */
};

/*
 * One frame seen by a TC hook, from its link-layer header. hdr.pid/tid/uid/cgroup_id/comm name the process
 * owning the local socket of the packet's flow (PKT_OWNER), zero when unknown; hdr.ts_ns is when the hook ran.
 */
struct packet_event {
	struct event_hdr hdr;
	__u32 ifindex;
	__u32 pkt_flags; /* enum pkt_flags */
	__u32 len;       /* frame length (skb->len) */
	__u32 cap_len;   /* bytes in data[] (len cut to the snap length) */
	__u32 peer_pid;  /* owner of the other end when it is local too, else 0 */
	__u32 _pad;
	__u8 data[ECAP_MAX_PACKET];
};

/*
 * Map key (not a wire event): a socket's flow as seen from its own side, the key of sk_owners in
 * tc_capture.bpf.o. Filled by the kernel and, for sockets open before the capture, by userspace.
 * IPv4 addresses (also IPv4-mapped IPv6 ones) are stored as family 4 in the first 4 bytes.
 */
struct flow_key {
	__u8 family; /* 4 or 6 */
	__u8 proto;  /* IPPROTO_TCP 6, IPPROTO_UDP 17 */
	__u16 lport; /* host byte order */
	__u16 rport; /* 0 = any (listening or unconnected sockets) */
	__u16 _pad;
	__u8 laddr[16];
	__u8 raddr[16];
};

/* Map value (not a wire event): who owns a socket (sk_owners). */
struct sk_owner {
	__u32 pid;
	__u32 tid;
	__u32 uid;
	__u32 _pad;
	__u64 cgroup_id;
	char comm[ECAP_COMM_LEN];
};

/* Map value (not a wire event): one classic BPF instruction, as libpcap's struct bpf_insn (host order). */
struct cbpf_insn {
	__u16 code;
	__u8 jt;
	__u8 jf;
	__u32 k;
};

/* ---- shell and database audit (bash, zsh, mysqld, postgres): add structs below this line ---- */

/*
 * One event struct for the four audit objects (bpf/shell/ and bpf/db/); hdr.kind is EVENT_SHELL
 * (bash, zsh) or EVENT_QUERY (mysqld, postgres) and `source` says which hook sent it. A text goes out in
 * chunks that share (hdr.pid, id, source): a C string of unknown length (a readline line, a postgres query)
 * in chunks of up to ECAP_MAX_CHUNK - 1 bytes, a text of known length (a mysqld packet) in chunks of
 * ECAP_MAX_CHUNK bytes; the last chunk has EVF_LAST_CHUNK, and EVF_TRUNCATED when the text was longer than
 * ECAP_MAX_CHUNKS chunks. Userspace joins the chunks and pairs the text with the END event of the same id.
 */
enum text_source {
	TEXT_SHELL_LINE = 1, /* a line the shell read at its prompt; aux = line number within the command, from 0 */
	TEXT_SHELL_CTX = 2,  /* where the command is typed: payload = tty name, NUL, cwd; aux = enum text_ctx_flags */
	TEXT_SHELL_END = 3,  /* command `id` is over: retval = exit status (-1 unknown); aux = enum text_end_how */
	TEXT_MYSQL_CMD = 4,  /* dispatch_command entry: aux = enum_server_command, session = THD*, value = statement
	                      * id (COM_STMT_*); payload = the command's text (COM_QUERY, COM_STMT_PREPARE, COM_INIT_DB) */
	TEXT_MYSQL_END = 5,  /* dispatch_command returned: retval = its return value (1 = close the connection),
	                      * aux = SQL error number (0 none), value = the prepared statement object that
	                      * COM_STMT_PREPARE created or COM_STMT_EXECUTE ran (0 unknown);
	                      * payload = SQLSTATE, NUL, error message */
	TEXT_PG_QUERY = 6,   /* a statement's text; aux = the protocol message it came in ('Q' simple query,
	                      * 'P' parse, 'B' bind: an execution of a prepared statement) */
	TEXT_PG_CTX = 7,     /* the backend's session (once per backend): payload = database, NUL, user, NUL,
	                      * client host, NUL, client port */
	TEXT_PG_END = 8,     /* statement `id` is over: retval = 0 ok, 1 the backend sent an ErrorResponse whose
	                      * fields are the payload (type byte + NUL-terminated string, repeated) */
};

enum text_end_how {
	END_EXECUTED = 0, /* the shell ran it; retval = its exit status */
	END_NOT_RUN = 1,  /* back at the prompt without a completed run (syntax error, Ctrl-C): retval = $? */
	END_EXIT = 2,     /* the shell exited during it (exit builtin, signal): retval = the shell's exit status */
	END_EXEC = 3,     /* the shell replaced itself with another program (exec builtin) */
};

enum text_ctx_flags {
	CTX_CWD_PARTIAL = 1, /* cwd deeper than the kernel walk goes: payload holds its last components */
};

struct text_event {
	struct event_hdr hdr;
	__u64 id;          /* the command/query this belongs to; unique within the process */
	__u64 session;     /* mysqld: the connection's THD*; 0 otherwise */
	__u64 value;       /* see enum text_source */
	__u32 source;      /* enum text_source */
	__u32 aux;         /* see enum text_source */
	__s32 retval;
	__u32 total_len;   /* length of the whole text when known before sending (mysqld), else 0 */
	__u32 chunk_off;   /* offset of payload[0] in the text */
	__u32 payload_len; /* bytes in payload[] */
	__u8 payload[ECAP_MAX_CHUNK];
};

/* ---- gnutls / nss: add structs below this line ---- */

/*
 * Kinds only gnutls.bpf.o sends (on its own ring buffer, next to the tls_data kinds). Numbered from 32 so
 * that they stay clear of enum event_kind as it grows.
 */
enum gnutls_event_kind {
	EVENT_GNUTLS_KEYLOG = 32,  /* struct gnutls_keylog_event */
	EVENT_GNUTLS_SECRETS = 33, /* struct gnutls_secrets_event */
};

#define ECAP_KEYLOG_LABEL_LEN 40
#define ECAP_SECRET_MAX 64

/* One secret as GnuTLS hands it to its key log hook (_gnutls_call_keylog_func): label, secret, and the
 * session's client random. Sent for every secret GnuTLS derives, whether or not a key log is configured. */
struct gnutls_keylog_event {
	struct event_hdr hdr;
	__u64 conn_id;    /* gnutls_session_t */
	__u32 lib_id;     /* attach cookie */
	__u32 secret_len; /* as GnuTLS passed it; secret[] holds min(secret_len, ECAP_SECRET_MAX) bytes */
	char label[ECAP_KEYLOG_LABEL_LEN]; /* NSS key log label, e.g. CLIENT_HANDSHAKE_TRAFFIC_SECRET */
	__u8 client_random[32];
	__u8 secret[ECAP_SECRET_MAX];
};

/* The secrets of a gnutls_session_t read with per-version struct offsets when gnutls_handshake() returned 0
 * (the fallback where the key log hook cannot be located). Unset members are zero. */
struct gnutls_secrets_event {
	struct event_hdr hdr;
	__u64 conn_id;
	__u32 lib_id;
	__u32 version; /* gnutls_protocol_t: 1 SSL3.0, 2..4 TLS1.0..1.2, 5 TLS1.3, 200..202 DTLS; 0 unknown */
	__u32 mac_id;  /* gnutls_mac_algorithm_t of the PRF (TLS 1.3 hash: 6 SHA-256, 7 SHA-384) */
	__u32 _pad;
	__u8 client_random[32];
	__u8 master_secret[48];
	__u8 client_early_secret[ECAP_SECRET_MAX];
	__u8 client_hs_secret[ECAP_SECRET_MAX];
	__u8 server_hs_secret[ECAP_SECRET_MAX];
	__u8 client_ap_secret[ECAP_SECRET_MAX];
	__u8 server_ap_secret[ECAP_SECRET_MAX];
	__u8 exporter_secret[ECAP_SECRET_MAX];
};

/* Map value (not a wire event): where one hooked libgnutls keeps things in its session struct; offsets from
 * the gnutls_session_t pointer, 0 = unknown. Filled by userspace per lib_id (map gnutls_layouts). */
struct gnutls_layout {
	__u32 client_random;  /* security_parameters.client_random */
	__u32 master_secret;  /* security_parameters.master_secret */
	__u32 pversion;       /* security_parameters.pversion (const version_entry_st *) */
	__u32 version_id;     /* version_entry_st.id */
	__u32 prf;            /* security_parameters.prf (const mac_entry_st *) */
	__u32 mac_id;         /* mac_entry_st.id */
	__u32 e_ckey;         /* key.proto.tls13.e_ckey */
	__u32 hs_ckey;
	__u32 hs_skey;
	__u32 ap_ckey;
	__u32 ap_skey;
	__u32 ap_expkey;
};

/* ---- gotls: add structs below this line ---- */

/*
 * gotls (bpf/tls/gotls.bpf.c). Plaintext goes out as struct tls_data_event (conn_id = the *tls.Conn,
 * lib_id = attach cookie) and connection ends as struct conn_close_event, like the C libraries'.
 */
#define ECAP_GO_LABEL_LEN 48  /* longest Go key log label: CLIENT_HANDSHAKE_TRAFFIC_SECRET (31) */
#define ECAP_GO_SECRET_LEN 64 /* TLS 1.2 master secret 48, TLS 1.3 secrets up to SHA-384's 48 */

/*
 * One call of Go's crypto/tls.(*Config).writeKeyLog(label string, clientRandom, secret []byte), read at its
 * entry: Go calls it for every secret of every handshake whether or not Config.KeyLogWriter is set (the
 * function returns at once when it is not, after the probe has seen the arguments). Sent with EVENT_GO_KEYLOG.
 */
struct go_keylog_event {
	struct event_hdr hdr;
	__u64 config;            /* the *tls.Config (the Conn is not an argument of writeKeyLog) */
	__u32 lib_id;            /* attach cookie: which Go binary */
	__u32 label_len;         /* lengths as Go passed them; the arrays hold at most their size */
	__u32 client_random_len;
	__u32 secret_len;
	char label[ECAP_GO_LABEL_LEN];
	__u8 client_random[32];
	__u8 secret[ECAP_GO_SECRET_LEN];
};

/* go_target.abi */
enum go_abi {
	GO_ABI_STACK = 0,    /* ABI0: argument word N at SP + stack_base + 8*(N-1) at entry (Go < 1.17 amd64, < 1.18 arm64) */
	GO_ABI_REGISTER = 1, /* ABIInternal: argument word N in register args[N-1]; results from the first register */
};

#define ECAP_GO_ARG_WORDS 9

/*
 * Map value (not a wire event): how to read the arguments and structs of one hooked Go binary; map go_targets,
 * key = the attach cookie of its probes, filled by userspace (src/probes/gotls) before attaching. A process may
 * run binaries of both ABIs (e.g. a helper started by another), so this is per binary, not rodata.
 */
struct go_target {
	__u32 abi;        /* enum go_abi */
	__u32 sp;         /* byte offset of the stack pointer in struct pt_regs */
	__u32 stack_base; /* argument word 1 (and the register ABI's spill slot 1) is at SP + stack_base */
	__u32 nargs;      /* register ABI: valid entries of args[] */
	__u32 args[ECAP_GO_ARG_WORDS]; /* register ABI: pt_regs byte offsets of argument words 1..nargs */
	/* from a *tls.Conn to its fd (src/elf/go/offsets.ts): conn.conn iface data → *net.TCPConn → *netFD */
	__u32 conn_conn;    /* tls.Conn.conn (net.Conn interface) */
	__u32 iface_data;   /* data word of an interface value */
	__u32 tcpconn_fd;   /* *netFD inside net.TCPConn */
	__u32 netfd_sysfd;  /* poll.FD.Sysfd inside netFD */
	__u32 netfd_family; /* netFD.family (AF_*): checked before the fd is trusted */
	__u32 netfd_sotype; /* netFD.sotype (SOCK_STREAM) */
};

#endif
