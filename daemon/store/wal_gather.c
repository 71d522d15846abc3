#include "wal_gather.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The WAL file format (sqlite.org/fileformat2.html#walformat): a frame is a
 * 24-byte header and a page; bytes 4-7 of the header, big-endian, are the
 * database's size in pages for the frame that commits a transaction, else 0. */
#define FRAME_HEADER_BYTES 24
/* The wal-index lock a writer holds from BEGIN to COMMIT or ROLLBACK (WAL_WRITE_LOCK). */
#define WAL_WRITE_LOCK 0

/* One open file. For a -wal file, buf holds len bytes that belong at offset
 * off in the file and are not there yet; every other file passes through. A
 * log and its connection's database file know each other: the database's
 * wal-index calls say when a transaction is published and when it ended. */
struct gather_file {
        sqlite3_file base;
        sqlite3_file *real; /* SQLite's own, right after this struct */
        bool log;
        const char *name;   /* as SQLite passed it to xOpen (a database's: the registry's key) */
        struct gather_file *peer; /* a log's database file, or a database file's log; or NULL */
        struct gather_file *next_db; /* the registry of open database files */
        bool write_locked;  /* a database file: its connection holds WAL_WRITE_LOCK (seen in xShmLock) */
        unsigned char *buf;
        int len;
        sqlite3_int64 off;
        sqlite3_int64 next_off;   /* where the last write ended: the next append goes there */
        sqlite3_int64 commit_end; /* where the frame that commits ends, once its header is written */
        /* The commit frame's page is written: whatever the transaction writes after it (the
         * padding to a sector boundary when power-safe overwrite is off) goes straight through,
         * where a failure is its own write's, not a barrier's, which cannot report one. */
        bool committed;
        /* A gathered write that failed: the frames SQLite counts as written are not.
         * Every later read, write and sync of the log fails with it, so that the
         * transaction can never commit, until its write lock is released. */
        int failed;
};

static sqlite3_vfs gather_vfs;
static atomic_uint_fast64_t asked, written;
/* open database files, for a log to find its own (connections open on any thread) */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct gather_file *registry;

static sqlite3_vfs *real_vfs(void)
{
        return gather_vfs.pAppData;
}

/* Writes what is gathered (a database file never has any). A failure is kept
 * (failed): the frames are gone, and nothing may commit over them. */
static int flush(struct gather_file *f)
{
        if (f->failed)
                return f->failed;
        if (f->len == 0)
                return SQLITE_OK;
        int rc = f->real->pMethods->xWrite(f->real, f->buf, f->len, f->off);
        f->len = 0;
        atomic_fetch_add(&written, 1);
        if (rc != SQLITE_OK)
                f->failed = rc;
        return rc;
}

/* What is gathered, then this write, to the file. */
static int write_through(struct gather_file *f, const void *data, int amt, sqlite3_int64 off)
{
        int rc = flush(f);
        if (rc != SQLITE_OK)
                return rc;
        atomic_fetch_add(&written, 1);
        return f->real->pMethods->xWrite(f->real, data, amt, off);
}

/* The transaction ended (its write lock is released): a commit's frames were
 * written when its commit frame was (below), so whatever is still gathered
 * belonged to one that rolled back, and is dropped, never written: by now
 * another connection may have written the log there. A kept failure ends too. */
static void transaction_ended(struct gather_file *log)
{
        log->len = 0;
        log->failed = 0;
        log->commit_end = 0;
        log->committed = false;
}

static int g_close(sqlite3_file *file)
{
        struct gather_file *f = (struct gather_file *)file;
        int rc = flush(f);
        pthread_mutex_lock(&registry_lock);
        if (f->peer)
                f->peer->peer = NULL;
        for (struct gather_file **p = &registry; *p; p = &(*p)->next_db)
                if (*p == f) {
                        *p = f->next_db;
                        break;
                }
        pthread_mutex_unlock(&registry_lock);
        int rc2 = f->real->pMethods->xClose(f->real);
        free(f->buf);
        f->buf = NULL;
        return rc != SQLITE_OK ? rc : rc2;
}

static int g_read(sqlite3_file *file, void *out, int amt, sqlite3_int64 off)
{
        struct gather_file *f = (struct gather_file *)file;
        int rc = flush(f);
        return rc != SQLITE_OK ? rc : f->real->pMethods->xRead(f->real, out, amt, off);
}

static int g_write(sqlite3_file *file, const void *data, int amt, sqlite3_int64 off)
{
        struct gather_file *f = (struct gather_file *)file;
        if (!f->log)
                return f->real->pMethods->xWrite(f->real, data, amt, off);
        if (f->failed)
                return f->failed;
        atomic_fetch_add(&asked, 1);
        bool append = off == f->next_off;
        f->next_off = off + amt;
        /* Gathered only inside a write transaction seen to begin (its WAL_WRITE_LOCK),
         * whose end is what drops a rollback's frames and clears a kept failure: not in a
         * log that found no database file to hear it from, not in exclusive locking mode
         * (SQLite takes no wal-index locks there), and not after the commit frame. */
        if (!f->peer || !f->peer->write_locked || f->committed)
                return write_through(f, data, amt, off);
        /* a frame header that commits: its page, gathered or not, is written as soon as
         * it is whole, and a failure is that write's */
        if (amt == FRAME_HEADER_BYTES) {
                const unsigned char *h = data;
                uint32_t pages = (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 | (uint32_t)h[6] << 8 | h[7];
                if (pages)
                        f->commit_end = off + amt;
        }
        if (f->len > 0 && off == f->off + f->len && f->len + amt <= DAWN_WAL_GATHER_BYTES) {
                /* the next frame (or half of one) right after what is gathered */
                memcpy(f->buf + f->len, data, (size_t)amt);
                f->len += amt;
        } else if (append && amt < DAWN_WAL_GATHER_BYTES) {
                /* an append to the log starts a new run */
                int rc = flush(f);
                if (rc != SQLITE_OK)
                        return rc;
                if (!f->buf && !(f->buf = malloc(DAWN_WAL_GATHER_BYTES)))
                        return SQLITE_NOMEM;
                memcpy(f->buf, data, (size_t)amt);
                f->len = amt;
                f->off = off;
        } else {
                /* anything else (the log's header when it starts again, a frame rewritten in
                 * place, a write larger than the buffer) goes straight through */
                return write_through(f, data, amt, off);
        }
        /* the commit frame's page: the whole transaction goes to the file now, and a
         * failure is this write's, which SQLite answers by not committing */
        if (f->commit_end && off == f->commit_end) {
                f->commit_end = 0;
                f->committed = true;
                return flush(f);
        }
        return SQLITE_OK;
}

static int g_truncate(sqlite3_file *file, sqlite3_int64 size)
{
        struct gather_file *f = (struct gather_file *)file;
        int rc = flush(f);
        return rc != SQLITE_OK ? rc : f->real->pMethods->xTruncate(f->real, size);
}

/* What is gathered is written before the log is synced; a write that failed,
 * now or before, is the sync's failure (SQLITE_FULL stays SQLITE_FULL: a full
 * disk is a temporary refusal for the submitter, as it was before). */
static int g_sync(sqlite3_file *file, int flags)
{
        struct gather_file *f = (struct gather_file *)file;
        int rc = flush(f);
        return rc != SQLITE_OK ? rc : f->real->pMethods->xSync(f->real, flags);
}

static int g_file_size(sqlite3_file *file, sqlite3_int64 *size)
{
        struct gather_file *f = (struct gather_file *)file;
        int rc = flush(f);
        return rc != SQLITE_OK ? rc : f->real->pMethods->xFileSize(f->real, size);
}

static int g_lock(sqlite3_file *file, int lock)
{
        struct gather_file *f = (struct gather_file *)file;
        return f->real->pMethods->xLock(f->real, lock);
}

static int g_unlock(sqlite3_file *file, int lock)
{
        struct gather_file *f = (struct gather_file *)file;
        return f->real->pMethods->xUnlock(f->real, lock);
}

static int g_check_reserved_lock(sqlite3_file *file, int *out)
{
        struct gather_file *f = (struct gather_file *)file;
        return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int g_file_control(sqlite3_file *file, int op, void *arg)
{
        struct gather_file *f = (struct gather_file *)file;
        int rc = flush(f); /* whatever it asks of the file sees every write */
        return rc != SQLITE_OK ? rc : f->real->pMethods->xFileControl(f->real, op, arg);
}

static int g_sector_size(sqlite3_file *file)
{
        struct gather_file *f = (struct gather_file *)file;
        return f->real->pMethods->xSectorSize(f->real);
}

static int g_device_characteristics(sqlite3_file *file)
{
        struct gather_file *f = (struct gather_file *)file;
        return f->real->pMethods->xDeviceCharacteristics(f->real);
}

/* The wal-index (shared memory) belongs to the database file, never a log's:
 * passed through, but it says when a transaction's frames must be in the log
 * (a commit is published: the barrier between the index header's two copies)
 * and when a transaction has ended (its write lock is released). */
static int g_shm_map(sqlite3_file *file, int page, int size, int extend, void volatile **out)
{
        struct gather_file *f = (struct gather_file *)file;
        return f->real->pMethods->xShmMap(f->real, page, size, extend, out);
}

static int g_shm_lock(sqlite3_file *file, int offset, int n, int flags)
{
        struct gather_file *f = (struct gather_file *)file;
        bool write_lock = offset <= WAL_WRITE_LOCK && offset + n > WAL_WRITE_LOCK && (flags & SQLITE_SHM_EXCLUSIVE);
        if (f->peer && write_lock && (flags & SQLITE_SHM_UNLOCK))
                transaction_ended(f->peer);
        int rc = f->real->pMethods->xShmLock(f->real, offset, n, flags);
        if (write_lock)
                f->write_locked = rc == SQLITE_OK && (flags & SQLITE_SHM_LOCK);
        return rc;
}

static void g_shm_barrier(sqlite3_file *file)
{
        struct gather_file *f = (struct gather_file *)file;
        if (f->peer)
                flush(f->peer); /* nothing should be left by now; a failure stays kept */
        f->real->pMethods->xShmBarrier(f->real);
}

static int g_shm_unmap(sqlite3_file *file, int delete_flag)
{
        struct gather_file *f = (struct gather_file *)file;
        f->write_locked = false; /* the wal-index, and every lock on it, is gone */
        return f->real->pMethods->xShmUnmap(f->real, delete_flag);
}

static int g_fetch(sqlite3_file *file, sqlite3_int64 off, int amt, void **out)
{
        struct gather_file *f = (struct gather_file *)file;
        int rc = flush(f);
        return rc != SQLITE_OK ? rc : f->real->pMethods->xFetch(f->real, off, amt, out);
}

static int g_unfetch(sqlite3_file *file, sqlite3_int64 off, void *p)
{
        struct gather_file *f = (struct gather_file *)file;
        return f->real->pMethods->xUnfetch(f->real, off, p);
}

static const sqlite3_io_methods gather_methods = {
        .iVersion = 3,
        .xClose = g_close,
        .xRead = g_read,
        .xWrite = g_write,
        .xTruncate = g_truncate,
        .xSync = g_sync,
        .xFileSize = g_file_size,
        .xLock = g_lock,
        .xUnlock = g_unlock,
        .xCheckReservedLock = g_check_reserved_lock,
        .xFileControl = g_file_control,
        .xSectorSize = g_sector_size,
        .xDeviceCharacteristics = g_device_characteristics,
        .xShmMap = g_shm_map,
        .xShmLock = g_shm_lock,
        .xShmBarrier = g_shm_barrier,
        .xShmUnmap = g_shm_unmap,
        .xFetch = g_fetch,
        .xUnfetch = g_unfetch,
};

static int g_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out_flags)
{
        struct gather_file *f = (struct gather_file *)file;
        memset(f, 0, sizeof(*f));
        f->real = (sqlite3_file *)(f + 1);
        int rc = real_vfs()->xOpen(real_vfs(), name, f->real, flags, out_flags);
        if (rc != SQLITE_OK || !f->real->pMethods) {
                f->base.pMethods = NULL; /* SQLite calls no xClose then */
                return rc;
        }
        /* only the unix VFS's own methods (version 3) are wrapped: all of them exist */
        if (f->real->pMethods->iVersion < 3) {
                f->real->pMethods->xClose(f->real);
                f->base.pMethods = NULL;
                return SQLITE_CANTOPEN;
        }
        f->log = (flags & SQLITE_OPEN_WAL) != 0;
        f->name = name;
        f->base.pMethods = &gather_methods;
        /* a database file and its connection's log find each other by the database's
         * name pointer, which SQLite passes to both (sqlite3_filename_database) */
        pthread_mutex_lock(&registry_lock);
        if ((flags & SQLITE_OPEN_MAIN_DB) && name) {
                f->next_db = registry;
                registry = f;
        } else if (f->log && name) {
                const char *db = sqlite3_filename_database(name);
                for (struct gather_file *d = registry; d; d = d->next_db)
                        if (d->name == db && !d->peer) {
                                d->peer = f;
                                f->peer = d;
                                break;
                        }
        }
        pthread_mutex_unlock(&registry_lock);
        return SQLITE_OK;
}

static int g_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
        return real_vfs()->xDelete(real_vfs(), name, sync_dir);
}

static int g_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
        return real_vfs()->xAccess(real_vfs(), name, flags, out);
}

static int g_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
        return real_vfs()->xFullPathname(real_vfs(), name, n, out);
}

static void *g_dl_open(sqlite3_vfs *vfs, const char *path)
{
        return real_vfs()->xDlOpen(real_vfs(), path);
}

static void g_dl_error(sqlite3_vfs *vfs, int n, char *out)
{
        real_vfs()->xDlError(real_vfs(), n, out);
}

static void (*g_dl_sym(sqlite3_vfs *vfs, void *handle, const char *symbol))(void)
{
        return real_vfs()->xDlSym(real_vfs(), handle, symbol);
}

static void g_dl_close(sqlite3_vfs *vfs, void *handle)
{
        real_vfs()->xDlClose(real_vfs(), handle);
}

static int g_randomness(sqlite3_vfs *vfs, int n, char *out)
{
        return real_vfs()->xRandomness(real_vfs(), n, out);
}

static int g_sleep(sqlite3_vfs *vfs, int usec)
{
        return real_vfs()->xSleep(real_vfs(), usec);
}

static int g_current_time(sqlite3_vfs *vfs, double *out)
{
        return real_vfs()->xCurrentTime(real_vfs(), out);
}

static int g_get_last_error(sqlite3_vfs *vfs, int n, char *out)
{
        return real_vfs()->xGetLastError(real_vfs(), n, out);
}

static int g_current_time_int64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
        return real_vfs()->xCurrentTimeInt64(real_vfs(), out);
}

static int g_set_system_call(sqlite3_vfs *vfs, const char *name, sqlite3_syscall_ptr p)
{
        return real_vfs()->xSetSystemCall(real_vfs(), name, p);
}

static sqlite3_syscall_ptr g_get_system_call(sqlite3_vfs *vfs, const char *name)
{
        return real_vfs()->xGetSystemCall(real_vfs(), name);
}

static const char *g_next_system_call(sqlite3_vfs *vfs, const char *name)
{
        return real_vfs()->xNextSystemCall(real_vfs(), name);
}

int dawn_wal_gather_register(void)
{
        if (sqlite3_vfs_find("dawn-wal-gather"))
                return SQLITE_OK;
        sqlite3_vfs *real = sqlite3_vfs_find(NULL);
        if (!real || real->iVersion < 3)
                return SQLITE_ERROR;
        gather_vfs = (sqlite3_vfs){
                .iVersion = 3,
                .szOsFile = (int)sizeof(struct gather_file) + real->szOsFile,
                .mxPathname = real->mxPathname,
                .zName = "dawn-wal-gather",
                .pAppData = real,
                .xOpen = g_open,
                .xDelete = g_delete,
                .xAccess = g_access,
                .xFullPathname = g_full_pathname,
                .xDlOpen = g_dl_open,
                .xDlError = g_dl_error,
                .xDlSym = g_dl_sym,
                .xDlClose = g_dl_close,
                .xRandomness = g_randomness,
                .xSleep = g_sleep,
                .xCurrentTime = g_current_time,
                .xGetLastError = g_get_last_error,
                .xCurrentTimeInt64 = g_current_time_int64,
                .xSetSystemCall = g_set_system_call,
                .xGetSystemCall = g_get_system_call,
                .xNextSystemCall = g_next_system_call,
        };
        return sqlite3_vfs_register(&gather_vfs, 1);
}

void dawn_wal_gather_counts(struct dawn_wal_gather_counts *out)
{
        out->asked = atomic_load(&asked);
        out->written = atomic_load(&written);
}
