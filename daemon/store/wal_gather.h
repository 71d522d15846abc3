/* The write-ahead log's frames gathered into one write per commit (issue 12).
 *
 * SQLite writes each WAL frame as two pwrite calls, its 24-byte header and
 * its page, and a commit of one alert is 17 frames: 34 system calls, 135 us
 * of the 740 us between a POST and its first MQTT publish on the test
 * machine (a KVM guest, where a system call costs 2-4 us). This is a VFS
 * shim over SQLite's default ("unix") that, for the -wal file only and only
 * inside a write transaction it saw begin (the wal-index's write lock), keeps
 * appended frames in a buffer and writes them with one call as soon as the
 * frame that commits is whole (its header says so), before anything else
 * touches the file (a read, a size, a truncation, a write elsewhere, a sync,
 * a close), or when the buffer is full; what follows the commit frame goes
 * straight through. A failed write is kept: the log's later reads, writes
 * and syncs fail with it until the transaction ends, so it cannot commit over
 * frames that are not there. What a transaction that rolled back left
 * gathered is dropped when its write lock is released, never written later
 * over another writer's frames. Frames still gathered when dawnd dies were
 * never committed, as if it had died a moment before writing them.
 *
 * Registered as the default VFS once per process (dawn_store_open does it). */
#ifndef DAWN_WAL_GATHER_H
#define DAWN_WAL_GATHER_H

#include <stdint.h>

/* The most a log keeps gathered before it writes: a commit larger than this
 * is written in pieces of this size. 128 KiB: 31 frames, a commit of 2-3
 * alerts with their deliveries, which is what 4 busy clients make; taken
 * once per connection from the heap dawnd keeps warm (main.c checks it stays
 * under glibc's mmap threshold). */
#define DAWN_WAL_GATHER_BYTES (128 * 1024)

/* 0, or an SQLite result code. Idempotent. */
int dawn_wal_gather_register(void);

/* What the shim did since registered (tests, bench): writes SQLite asked for
 * on logs, and writes that reached the file (each gathered run is one). */
struct dawn_wal_gather_counts {
        uint64_t asked, written;
};
void dawn_wal_gather_counts(struct dawn_wal_gather_counts *out);

#endif
