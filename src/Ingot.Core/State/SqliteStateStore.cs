using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Ingot.Destinations;
using Microsoft.Data.Sqlite;

namespace Ingot.State;

/// <summary>
/// The embedded state store: one SQLite file in WAL mode with synchronous=NORMAL: a commit survives a process
/// crash (kill -9) at once and a power cut once the WAL is synced. Losing the last commits to a power cut is
/// safe by construction — the file journal is synced before any file appears, data files are fsynced before
/// their chunk commits, so a lost commit only means the chunk's files are removed at the next start and the
/// chunk is landed again (invariant 4). One connection, calls serialised; several processes coordinate through
/// SQLite's own locks.
/// </summary>
public sealed class SqliteStateStore : IStateStore
{
    /// <summary>Ordered migrations; index + 1 is the schema version. Append only: a user's file must survive upgrades.</summary>
    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE runs (run_id TEXT PRIMARY KEY, pipeline TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT,
            status TEXT NOT NULL, exit_code INTEGER, args TEXT NOT NULL, summary TEXT);
        CREATE INDEX runs_pipeline ON runs (pipeline, started_at);
        CREATE TABLE chunks (pipeline TEXT NOT NULL, chunk_key TEXT NOT NULL, stream TEXT NOT NULL, status TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, split TEXT, records INTEGER NOT NULL DEFAULT 0,
            run_id TEXT, updated_at TEXT NOT NULL, covered_to TEXT, PRIMARY KEY (pipeline, chunk_key));
        CREATE TABLE chunk_files (pipeline TEXT NOT NULL, chunk_key TEXT NOT NULL, destination TEXT NOT NULL, path TEXT NOT NULL,
            state TEXT NOT NULL, sha256 TEXT, bytes INTEGER, PRIMARY KEY (pipeline, destination, path));
        CREATE INDEX chunk_files_chunk ON chunk_files (pipeline, chunk_key);
        CREATE TABLE watermarks (pipeline TEXT NOT NULL, stream TEXT NOT NULL, value TEXT NOT NULL, record_count INTEGER NOT NULL,
            updated_at TEXT NOT NULL, PRIMARY KEY (pipeline, stream));
        CREATE TABLE quota_usage (scope TEXT NOT NULL, day TEXT NOT NULL, used INTEGER NOT NULL, PRIMARY KEY (scope, day));
        CREATE TABLE leases (pipeline TEXT PRIMARY KEY, run_id TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL,
            process_start TEXT NOT NULL, heartbeat_at TEXT NOT NULL, expires_at TEXT NOT NULL);
        """,
        // Engine v2: a unit's identity (the configuration it was fetched with) and bounds; receipts of non-file destinations.
        """
        ALTER TABLE chunks ADD COLUMN identity TEXT;
        ALTER TABLE chunks ADD COLUMN bounds TEXT;
        CREATE TABLE chunk_receipts (pipeline TEXT NOT NULL, chunk_key TEXT NOT NULL, destination TEXT NOT NULL, rows INTEGER NOT NULL,
            token TEXT, PRIMARY KEY (pipeline, chunk_key, destination));
        """,
        // Cursor streams: what the source keeps with its checkpoint (a snapshot fence, look-back keys).
        """
        ALTER TABLE watermarks ADD COLUMN memo TEXT;
        """,
    ];

    private readonly SqliteConnection _connection;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly TimeProvider _time;

    private SqliteStateStore(SqliteConnection connection, string path, TimeProvider time)
    {
        _connection = connection;
        _time = time;
        Describe = $"sqlite:{path}";
    }

    public string Describe { get; }

    public static int SchemaVersion => Migrations.Length;

    public static SqliteStateStore Open(string path, TimeProvider time)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false, DefaultTimeout = 30 }.ToString());
        try
        {
            connection.Open();
            Exec(connection, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000; PRAGMA foreign_keys=ON;");
            Migrate(connection);
            return new SqliteStateStore(connection, path, time);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    private static void Migrate(SqliteConnection connection)
    {
        Exec(connection, "BEGIN IMMEDIATE");
        try
        {
            Exec(connection, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
            using var cmd = connection.CreateCommand();
            cmd.CommandText = "SELECT COALESCE(MAX(version), 0) FROM schema_version";
            var current = Convert.ToInt32(cmd.ExecuteScalar(), CultureInfo.InvariantCulture);
            if (current > Migrations.Length)
                throw new InvalidOperationException($"the state database has schema version {current}, newer than this ingot ({Migrations.Length}); upgrade ingot");
            for (var v = current; v < Migrations.Length; v++)
            {
                Exec(connection, Migrations[v]);
                Exec(connection, $"INSERT INTO schema_version (version) VALUES ({v + 1})");
            }
            Exec(connection, "COMMIT");
        }
        catch
        {
            Exec(connection, "ROLLBACK");
            throw;
        }
    }

    private static void Exec(SqliteConnection connection, string sql)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    private string Now() => Ts(_time.GetUtcNow());
    private static string Ts(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffffffZ", CultureInfo.InvariantCulture);
    private static DateTimeOffset ParseTs(string s) => DateTimeOffset.Parse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);

    private async Task<T> WithLockAsync<T>(Func<T> work, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return work();
        }
        finally
        {
            _gate.Release();
        }
    }

    private Task WithLockAsync(Action work, CancellationToken cancellationToken) =>
        WithLockAsync(() => { work(); return true; }, cancellationToken);

    private T InTransaction<T>(Func<SqliteTransaction, T> work)
    {
        // BEGIN IMMEDIATE: take the write lock up front so two processes never deadlock upgrading a read lock.
        using var tx = _connection.BeginTransaction(deferred: false);
        var result = work(tx);
        tx.Commit();
        return result;
    }

    private SqliteCommand Command(string sql, SqliteTransaction? tx, params (string Name, object? Value)[] args)
    {
        var cmd = _connection.CreateCommand();
        cmd.CommandText = sql;
        cmd.Transaction = tx;
        foreach (var (name, value) in args) cmd.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return cmd;
    }

    // ---- leases ----

    public Task<LeaseResult> TryAcquireLeaseAsync(string pipeline, Guid runId, TimeSpan ttl, CancellationToken cancellationToken) =>
        WithLockAsync(() => InTransaction(tx =>
        {
            var me = ProcessIdentity.Current;
            var now = _time.GetUtcNow();
            LeaseHolder? holder = null;
            string? holderStart = null;
            using (var cmd = Command("SELECT run_id, host, pid, process_start, heartbeat_at, expires_at FROM leases WHERE pipeline = $p", tx, ("$p", pipeline)))
            using (var r = cmd.ExecuteReader())
            {
                if (r.Read())
                {
                    holder = new LeaseHolder(Guid.Parse(r.GetString(0)), r.GetString(1), r.GetInt32(2), ParseTs(r.GetString(4)), ParseTs(r.GetString(5)));
                    holderStart = r.GetString(3);
                }
            }
            var tookOver = false;
            if (holder is not null)
            {
                var expired = holder.ExpiresAt <= now;
                // Same host and the process is gone (kill -9): take over at once rather than wait for expiry.
                var dead = holder.Host == me.Host && !ProcessIdentity.IsAlive(holder.Pid, holderStart!);
                if (!expired && !dead) return new LeaseResult(false, holder, false);
                tookOver = true;
            }
            using (var up = Command(
                """
                INSERT INTO leases (pipeline, run_id, host, pid, process_start, heartbeat_at, expires_at) VALUES ($p, $r, $h, $pid, $ps, $now, $exp)
                ON CONFLICT (pipeline) DO UPDATE SET run_id = $r, host = $h, pid = $pid, process_start = $ps, heartbeat_at = $now, expires_at = $exp
                """, tx, ("$p", pipeline), ("$r", runId.ToString()), ("$h", me.Host), ("$pid", me.Pid), ("$ps", me.StartToken), ("$now", Ts(now)), ("$exp", Ts(now + ttl))))
            {
                up.ExecuteNonQuery();
            }
            return new LeaseResult(true, holder, tookOver);
        }), cancellationToken);

    public Task<bool> RenewLeaseAsync(string pipeline, Guid runId, TimeSpan ttl, CancellationToken cancellationToken) =>
        WithLockAsync(() =>
        {
            var now = _time.GetUtcNow();
            using var cmd = Command("UPDATE leases SET heartbeat_at = $now, expires_at = $exp WHERE pipeline = $p AND run_id = $r", null,
                ("$now", Ts(now)), ("$exp", Ts(now + ttl)), ("$p", pipeline), ("$r", runId.ToString()));
            return cmd.ExecuteNonQuery() == 1;
        }, cancellationToken);

    public Task ReleaseLeaseAsync(string pipeline, Guid runId, CancellationToken cancellationToken) =>
        WithLockAsync(() =>
        {
            using var cmd = Command("DELETE FROM leases WHERE pipeline = $p AND run_id = $r", null, ("$p", pipeline), ("$r", runId.ToString()));
            cmd.ExecuteNonQuery();
        }, cancellationToken);

    // ---- runs ----

    public Task StartRunAsync(RunRecord run, CancellationToken cancellationToken) =>
        WithLockAsync(() =>
        {
            using var cmd = Command("INSERT INTO runs (run_id, pipeline, started_at, status, args) VALUES ($r, $p, $s, $st, $a)", null,
                ("$r", run.RunId.ToString()), ("$p", run.Pipeline), ("$s", Ts(run.StartedAt)), ("$st", run.Status), ("$a", run.Args));
            cmd.ExecuteNonQuery();
        }, cancellationToken);

    public Task FinishRunAsync(Guid runId, string status, int exitCode, string summaryJson, CancellationToken cancellationToken) =>
        WithLockAsync(() =>
        {
            using var cmd = Command("UPDATE runs SET finished_at = $f, status = $st, exit_code = $e, summary = $s WHERE run_id = $r", null,
                ("$f", Now()), ("$st", status), ("$e", exitCode), ("$s", summaryJson), ("$r", runId.ToString()));
            cmd.ExecuteNonQuery();
        }, cancellationToken);

    public Task<IReadOnlyList<RunRecord>> ListRunsAsync(string? pipeline, int limit, CancellationToken cancellationToken) =>
        WithLockAsync<IReadOnlyList<RunRecord>>(() =>
        {
            using var cmd = Command(
                "SELECT run_id, pipeline, started_at, finished_at, status, exit_code, args, summary FROM runs WHERE ($p IS NULL OR pipeline = $p) ORDER BY started_at DESC LIMIT $l",
                null, ("$p", pipeline), ("$l", limit));
            using var r = cmd.ExecuteReader();
            var list = new List<RunRecord>();
            while (r.Read())
            {
                list.Add(new RunRecord(Guid.Parse(r.GetString(0)), r.GetString(1), ParseTs(r.GetString(2)), r.IsDBNull(3) ? null : ParseTs(r.GetString(3)),
                    r.GetString(4), r.IsDBNull(5) ? null : r.GetInt32(5), r.GetString(6), r.IsDBNull(7) ? null : r.GetString(7)));
            }
            return list;
        }, cancellationToken);

    // ---- chunks ----

    public Task<IReadOnlyDictionary<string, ChunkState>> GetChunksAsync(string pipeline, CancellationToken cancellationToken) =>
        WithLockAsync<IReadOnlyDictionary<string, ChunkState>>(() =>
        {
            var files = new Dictionary<string, List<LandedFile>>(StringComparer.Ordinal);
            using (var fc = Command("SELECT chunk_key, destination, path, sha256, bytes FROM chunk_files WHERE pipeline = $p AND state = 'committed' ORDER BY destination, path", null, ("$p", pipeline)))
            using (var fr = fc.ExecuteReader())
            {
                while (fr.Read())
                {
                    var key = fr.GetString(0);
                    if (!files.TryGetValue(key, out var list)) files[key] = list = [];
                    list.Add(new LandedFile(fr.GetString(1), fr.GetString(2), fr.IsDBNull(3) ? "" : fr.GetString(3), fr.IsDBNull(4) ? 0 : fr.GetInt64(4)));
                }
            }
            var receipts = new Dictionary<string, List<Receipt>>(StringComparer.Ordinal);
            using (var rc = Command("SELECT chunk_key, destination, rows, token FROM chunk_receipts WHERE pipeline = $p", null, ("$p", pipeline)))
            using (var rr = rc.ExecuteReader())
            {
                while (rr.Read())
                {
                    var key = rr.GetString(0);
                    if (!receipts.TryGetValue(key, out var list)) receipts[key] = list = [];
                    list.Add(new Receipt(rr.GetString(1), [], rr.GetInt64(2), rr.IsDBNull(3) ? null : rr.GetString(3)));
                }
            }
            var result = new Dictionary<string, ChunkState>(StringComparer.Ordinal);
            using var cmd = Command("SELECT chunk_key, stream, status, attempts, last_error, split, records, run_id, updated_at, covered_to, identity, bounds FROM chunks WHERE pipeline = $p", null, ("$p", pipeline));
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                var key = r.GetString(0);
                result[key] = new ChunkState(pipeline, key, r.GetString(1), Enum.Parse<ChunkStatus>(r.GetString(2), ignoreCase: true), r.GetInt32(3),
                    r.IsDBNull(4) ? null : r.GetString(4), r.IsDBNull(5) ? null : r.GetString(5), r.GetInt64(6),
                    r.IsDBNull(7) ? null : Guid.Parse(r.GetString(7)), ParseTs(r.GetString(8)), files.TryGetValue(key, out var f) ? f : [],
                    r.IsDBNull(9) ? null : ParseTs(r.GetString(9)))
                {
                    Identity = r.IsDBNull(10) ? null : r.GetString(10),
                    Bounds = r.IsDBNull(11) ? null : r.GetString(11),
                    Receipts = receipts.TryGetValue(key, out var rcs) ? rcs : [],
                };
            }
            return result;
        }, cancellationToken);

    public Task<IReadOnlySet<string>> KnownKeysAsync(string pipeline, CancellationToken cancellationToken) =>
        WithLockAsync<IReadOnlySet<string>>(() =>
        {
            using var cmd = Command("SELECT chunk_key FROM chunks WHERE pipeline = $p UNION SELECT chunk_key FROM chunk_files WHERE pipeline = $p", null, ("$p", pipeline));
            using var r = cmd.ExecuteReader();
            var keys = new HashSet<string>(StringComparer.Ordinal);
            while (r.Read()) keys.Add(r.GetString(0));
            return keys;
        }, cancellationToken);

    public Task RecordSplitAsync(string pipeline, string key, string split, CancellationToken cancellationToken) =>
        WithLockAsync(() =>
        {
            using var cmd = Command(
                """
                INSERT INTO chunks (pipeline, chunk_key, stream, status, attempts, split, updated_at) VALUES ($p, $k, '', 'pending', 0, $s, $now)
                ON CONFLICT (pipeline, chunk_key) DO UPDATE SET split = $s, updated_at = $now
                """, null, ("$s", split), ("$now", Now()), ("$p", pipeline), ("$k", key));
            cmd.ExecuteNonQuery();
        }, cancellationToken);

    public Task JournalFileAsync(string pipeline, string key, string destination, string path, CancellationToken cancellationToken) =>
        JournalFilesAsync(pipeline, key, destination, [path], cancellationToken);

    private sealed record JournalEntry(string Pipeline, string Key, string Destination, IReadOnlyList<string> Paths, TaskCompletionSource Done);

    private readonly System.Threading.Channels.Channel<JournalEntry> _journal = System.Threading.Channels.Channel.CreateUnbounded<JournalEntry>(new() { SingleReader = true });
    private Task? _journalWriter;
    private readonly Lock _journalStart = new();

    /// <summary>
    /// Group commit: journal entries of concurrent landings are written together, in one synced transaction — one
    /// WAL fsync for the batch instead of one per chunk. Each caller returns only once its entry is durable.
    /// </summary>
    public async Task JournalFilesAsync(string pipeline, string key, string destination, IReadOnlyList<string> paths, CancellationToken cancellationToken)
    {
        var entry = new JournalEntry(pipeline, key, destination, paths, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        lock (_journalStart) _journalWriter ??= Task.Run(WriteJournalAsync, CancellationToken.None);
        if (!_journal.Writer.TryWrite(entry)) throw new ObjectDisposedException(nameof(SqliteStateStore));
        await entry.Done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task WriteJournalAsync()
    {
        var batch = new List<JournalEntry>();
        while (await _journal.Reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
        {
            batch.Clear();
            while (batch.Count < 256 && _journal.Reader.TryRead(out var e)) batch.Add(e);
            try
            {
                await WithLockAsync(() => FullySynced(() => InTransaction(tx =>
                {
                    // A path already committed (same name rewritten) stays committed; anything else is pending until the commit.
                    foreach (var e in batch)
                    {
                        foreach (var path in e.Paths)
                        {
                            using var cmd = Command(
                                """
                                INSERT INTO chunk_files (pipeline, chunk_key, destination, path, state) VALUES ($p, $k, $d, $path, 'pending')
                                ON CONFLICT (pipeline, destination, path) DO UPDATE SET chunk_key = $k, state = CASE WHEN state = 'obsolete' THEN 'pending' ELSE state END
                                """, tx, ("$p", e.Pipeline), ("$k", e.Key), ("$d", e.Destination), ("$path", path));
                            cmd.ExecuteNonQuery();
                        }
                    }
                    return true;
                })), CancellationToken.None).ConfigureAwait(false);
                foreach (var e in batch) e.Done.TrySetResult();
            }
            catch (Exception ex)
            {
                foreach (var e in batch) e.Done.TrySetException(ex);
            }
        }
    }

    /// <summary>
    /// The journal must be on disk before the file it names appears (a power cut must not leave an unrecorded
    /// file), so its transactions sync the WAL; everything else may lose its last commits to a power cut safely.
    /// </summary>
    private T FullySynced<T>(Func<T> work)
    {
        Exec(_connection, "PRAGMA synchronous=FULL");
        try
        {
            return work();
        }
        finally
        {
            Exec(_connection, "PRAGMA synchronous=NORMAL");
        }
    }

    public Task<IReadOnlyList<PendingDeletion>> AbandonPendingAsync(string pipeline, CancellationToken cancellationToken) =>
        WithLockAsync<IReadOnlyList<PendingDeletion>>(() => InTransaction(tx =>
        {
            using (var mark = Command("UPDATE chunk_files SET state = 'obsolete' WHERE pipeline = $p AND state = 'pending'", tx, ("$p", pipeline)))
            {
                mark.ExecuteNonQuery();
            }
            using var q = Command("SELECT chunk_key, destination, path FROM chunk_files WHERE pipeline = $p AND state = 'obsolete'", tx, ("$p", pipeline));
            using var r = q.ExecuteReader();
            var list = new List<PendingDeletion>();
            while (r.Read()) list.Add(new PendingDeletion(pipeline, r.GetString(0), r.GetString(1), r.GetString(2)));
            return list;
        }), cancellationToken);

    public Task<IReadOnlyList<PendingDeletion>> CommitChunkAsync(string pipeline, string key, string stream, Guid runId, long records, DateTimeOffset coveredTo, IReadOnlyList<LandedFile> files, CancellationToken cancellationToken) =>
        CommitUnitsAsync(pipeline, [new UnitCommit(key, stream, runId, records, coveredTo, null, null,
            files.GroupBy(f => f.Destination).Select(g => new Receipt(g.Key, g.ToList(), 0)).ToList())], cancellationToken);

    public Task StorePlanAsync(string pipeline, IReadOnlyList<Sources.WorkUnit> units, CancellationToken cancellationToken) =>
        WithLockAsync(() => InTransaction(tx =>
        {
            using var cmd = Command(
                """
                INSERT INTO chunks (pipeline, chunk_key, stream, status, attempts, updated_at, identity, bounds) VALUES ($p, $k, $s, 'pending', 0, $now, $i, $b)
                ON CONFLICT (pipeline, chunk_key) DO UPDATE SET stream = $s, bounds = COALESCE(bounds, $b), identity = CASE WHEN status = 'done' THEN identity ELSE $i END
                """, tx, ("$p", pipeline), ("$k", ""), ("$s", ""), ("$now", Now()), ("$i", null), ("$b", null));
            cmd.Prepare();
            foreach (var u in units)
            {
                cmd.Parameters["$k"].Value = u.Key;
                cmd.Parameters["$s"].Value = u.Stream;
                cmd.Parameters["$i"].Value = u.Identity.Text;
                cmd.Parameters["$b"].Value = u.Bounds.ToJson();
                cmd.ExecuteNonQuery();
            }
            return true;
        }), cancellationToken);

    public Task<IReadOnlyList<PendingDeletion>> CommitUnitsAsync(string pipeline, IReadOnlyList<UnitCommit> commits, CancellationToken cancellationToken) =>
        WithLockAsync<IReadOnlyList<PendingDeletion>>(() => InTransaction(tx =>
        {
            var obsolete = new List<PendingDeletion>();
            foreach (var commit in commits)
            {
                var key = commit.Key;
                foreach (var retired in commit.Retire)
                {
                    // A superseded unit of an older configuration: its files go, its row and receipts with them.
                    using (var mark = Command("UPDATE chunk_files SET state = 'obsolete' WHERE pipeline = $p AND chunk_key = $k", tx, ("$p", pipeline), ("$k", retired)))
                        mark.ExecuteNonQuery();
                    obsolete.AddRange(ObsoleteFor(pipeline, retired, tx));
                    using (var del = Command("DELETE FROM chunks WHERE pipeline = $p AND chunk_key = $k", tx, ("$p", pipeline), ("$k", retired)))
                        del.ExecuteNonQuery();
                    using (var delr = Command("DELETE FROM chunk_receipts WHERE pipeline = $p AND chunk_key = $k", tx, ("$p", pipeline), ("$k", retired)))
                        delr.ExecuteNonQuery();
                }
                using (var mark = Command("UPDATE chunk_files SET state = 'obsolete' WHERE pipeline = $p AND chunk_key = $k", tx, ("$p", pipeline), ("$k", key)))
                {
                    mark.ExecuteNonQuery();
                }
                foreach (var f in commit.Files)
                {
                    using var up = Command(
                        """
                        INSERT INTO chunk_files (pipeline, chunk_key, destination, path, state, sha256, bytes) VALUES ($p, $k, $d, $path, 'committed', $h, $b)
                        ON CONFLICT (pipeline, destination, path) DO UPDATE SET chunk_key = $k, state = 'committed', sha256 = $h, bytes = $b
                        """, tx, ("$p", pipeline), ("$k", key), ("$d", f.Destination), ("$path", f.Path), ("$h", f.Sha256), ("$b", f.Bytes));
                    up.ExecuteNonQuery();
                }
                using (var delr = Command("DELETE FROM chunk_receipts WHERE pipeline = $p AND chunk_key = $k", tx, ("$p", pipeline), ("$k", key)))
                    delr.ExecuteNonQuery();
                foreach (var receipt in commit.Receipts.Where(r => r.Files.Count == 0 && (r.Rows > 0 || r.Token is not null)))
                {
                    using var ins = Command("INSERT INTO chunk_receipts (pipeline, chunk_key, destination, rows, token) VALUES ($p, $k, $d, $n, $t)", tx,
                        ("$p", pipeline), ("$k", key), ("$d", receipt.Destination), ("$n", receipt.Rows), ("$t", receipt.Token));
                    ins.ExecuteNonQuery();
                }
                using (var c = Command(
                    """
                    INSERT INTO chunks (pipeline, chunk_key, stream, status, attempts, records, run_id, updated_at, covered_to, identity, bounds) VALUES ($p, $k, $s, 'done', 1, $n, $r, $now, $c, $i, $b)
                    ON CONFLICT (pipeline, chunk_key) DO UPDATE SET stream = $s, status = 'done', attempts = attempts + 1, last_error = NULL, records = $n, run_id = $r, updated_at = $now,
                        covered_to = $c, identity = COALESCE($i, identity), bounds = COALESCE($b, bounds)
                    """, tx, ("$p", pipeline), ("$k", key), ("$s", commit.Stream), ("$n", commit.Records), ("$r", commit.RunId.ToString()), ("$now", Now()),
                    ("$c", commit.CoveredTo is { } ct ? Ts(ct) : null), ("$i", commit.Identity), ("$b", commit.Bounds)))
                {
                    c.ExecuteNonQuery();
                }
                if (commit.Checkpoint is { } move) SetWatermark(pipeline, move.Stream, move.Value, move.RecordCount, move.Memo, tx);
                obsolete.AddRange(ObsoleteFor(pipeline, key, tx));
            }
            return obsolete;
        }), cancellationToken);

    public Task AdoptAsync(string pipeline, IReadOnlyList<RunRecord> runs, IReadOnlyList<AdoptedUnit> units, CancellationToken cancellationToken) =>
        WithLockAsync(() => InTransaction(tx =>
        {
            foreach (var run in runs)
            {
                using var cmd = Command(
                    """
                    INSERT INTO runs (run_id, pipeline, started_at, finished_at, status, args, summary) VALUES ($r, $p, $s, $f, $st, $a, NULL)
                    ON CONFLICT (run_id) DO NOTHING
                    """, tx, ("$r", run.RunId.ToString()), ("$p", run.Pipeline), ("$s", Ts(run.StartedAt)), ("$f", run.FinishedAt is { } f ? Ts(f) : null), ("$st", run.Status), ("$a", run.Args));
                cmd.ExecuteNonQuery();
            }
            foreach (var u in units)
            {
                using (var del = Command("DELETE FROM chunk_files WHERE pipeline = $p AND chunk_key = $k", tx, ("$p", pipeline), ("$k", u.Key)))
                    del.ExecuteNonQuery();
                using (var c = Command(
                    """
                    INSERT INTO chunks (pipeline, chunk_key, stream, status, attempts, records, run_id, updated_at, covered_to, identity, bounds) VALUES ($p, $k, $s, $st, 1, $n, $r, $now, $c, $i, $b)
                    ON CONFLICT (pipeline, chunk_key) DO UPDATE SET stream = $s, status = $st, records = $n, run_id = $r, updated_at = $now, covered_to = $c, identity = $i, bounds = $b, last_error = NULL
                    """, tx, ("$p", pipeline), ("$k", u.Key), ("$s", u.Stream), ("$st", u.Done ? "done" : "pending"), ("$n", u.Records), ("$r", u.RunId?.ToString()), ("$now", Now()),
                    ("$c", u.CoveredTo is { } ct ? Ts(ct) : null), ("$i", u.Identity), ("$b", u.Bounds)))
                {
                    c.ExecuteNonQuery();
                }
                foreach (var f in u.Files)
                {
                    // Files of a unit only some destinations hold are journaled as pending: the next run removes them and lands the unit again.
                    using var up = Command(
                        """
                        INSERT INTO chunk_files (pipeline, chunk_key, destination, path, state, sha256, bytes) VALUES ($p, $k, $d, $path, $st, $h, $b)
                        ON CONFLICT (pipeline, destination, path) DO UPDATE SET chunk_key = $k, state = $st, sha256 = $h, bytes = $b
                        """, tx, ("$p", pipeline), ("$k", u.Key), ("$d", f.Destination), ("$path", f.Path), ("$st", u.Done ? "committed" : "pending"), ("$h", f.Sha256), ("$b", f.Bytes));
                    up.ExecuteNonQuery();
                }
            }
            return true;
        }), cancellationToken);

    public Task<IReadOnlyList<PendingDeletion>> FailChunkAsync(string pipeline, string key, string stream, Guid runId, string error, CancellationToken cancellationToken) =>
        WithLockAsync<IReadOnlyList<PendingDeletion>>(() => InTransaction(tx =>
        {
            using (var c = Command(
                """
                INSERT INTO chunks (pipeline, chunk_key, stream, status, attempts, last_error, run_id, updated_at) VALUES ($p, $k, $s, 'failed', 1, $e, $r, $now)
                ON CONFLICT (pipeline, chunk_key) DO UPDATE SET stream = $s, status = 'failed', attempts = attempts + 1, last_error = $e, run_id = $r, updated_at = $now
                """, tx, ("$e", error), ("$r", runId.ToString()), ("$now", Now()), ("$p", pipeline), ("$k", key), ("$s", stream)))
            {
                c.ExecuteNonQuery();
            }
            return AbandonPending(pipeline, key, tx);
        }), cancellationToken);

    public Task<IReadOnlyList<PendingDeletion>> AbandonChunkAsync(string pipeline, string key, CancellationToken cancellationToken) =>
        WithLockAsync<IReadOnlyList<PendingDeletion>>(() => InTransaction(tx => AbandonPending(pipeline, key, tx)), cancellationToken);

    private List<PendingDeletion> AbandonPending(string pipeline, string key, SqliteTransaction tx)
    {
        using (var mark = Command("UPDATE chunk_files SET state = 'obsolete' WHERE pipeline = $p AND chunk_key = $k AND state = 'pending'", tx, ("$p", pipeline), ("$k", key)))
        {
            mark.ExecuteNonQuery();
        }
        return ObsoleteFor(pipeline, key, tx);
    }

    private List<PendingDeletion> ObsoleteFor(string pipeline, string key, SqliteTransaction tx)
    {
        using var q = Command("SELECT destination, path FROM chunk_files WHERE pipeline = $p AND chunk_key = $k AND state = 'obsolete'", tx, ("$p", pipeline), ("$k", key));
        using var r = q.ExecuteReader();
        var list = new List<PendingDeletion>();
        while (r.Read()) list.Add(new PendingDeletion(pipeline, key, r.GetString(0), r.GetString(1)));
        return list;
    }

    public Task ForgetDeletionAsync(PendingDeletion deletion, CancellationToken cancellationToken) =>
        WithLockAsync(() =>
        {
            using var cmd = Command("DELETE FROM chunk_files WHERE pipeline = $p AND destination = $d AND path = $path AND state = 'obsolete'", null,
                ("$p", deletion.Pipeline), ("$d", deletion.Destination), ("$path", deletion.Path));
            cmd.ExecuteNonQuery();
        }, cancellationToken);

    // ---- watermarks ----

    public Task SetWatermarkAsync(string pipeline, string stream, string value, long recordCount, CancellationToken cancellationToken) =>
        WithLockAsync(() => SetWatermark(pipeline, stream, value, recordCount, null, null), cancellationToken);

    /// <summary>Moves a stream's checkpoint; <c>updated_at</c> changes only when the value does (checkpoints.json: when it last moved).</summary>
    private void SetWatermark(string pipeline, string stream, string value, long recordCount, string? memo, SqliteTransaction? tx)
    {
        using var cmd = Command(
            """
            INSERT INTO watermarks (pipeline, stream, value, record_count, updated_at, memo) VALUES ($p, $s, $v, $n, $now, $m)
            ON CONFLICT (pipeline, stream) DO UPDATE SET record_count = $n, updated_at = CASE WHEN value = $v THEN updated_at ELSE $now END, value = $v, memo = $m
            """, tx, ("$p", pipeline), ("$s", stream), ("$v", value), ("$n", recordCount), ("$now", Now()), ("$m", memo));
        cmd.ExecuteNonQuery();
    }

    public Task<IReadOnlyList<Watermark>> GetWatermarksAsync(string pipeline, CancellationToken cancellationToken) =>
        WithLockAsync<IReadOnlyList<Watermark>>(() =>
        {
            using var cmd = Command("SELECT stream, value, record_count, updated_at, memo FROM watermarks WHERE pipeline = $p ORDER BY stream", null, ("$p", pipeline));
            using var r = cmd.ExecuteReader();
            var list = new List<Watermark>();
            while (r.Read()) list.Add(new Watermark(pipeline, r.GetString(0), r.GetString(1), r.GetInt64(2), ParseTs(r.GetString(3))) { Memo = r.IsDBNull(4) ? null : r.GetString(4) });
            return list;
        }, cancellationToken);

    // ---- quota ----

    public Task<long> GetQuotaUsageAsync(string scope, DateOnly day, CancellationToken cancellationToken) =>
        WithLockAsync(() =>
        {
            using var cmd = Command("SELECT used FROM quota_usage WHERE scope = $s AND day = $d", null, ("$s", scope), ("$d", day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)));
            return cmd.ExecuteScalar() is long n ? n : 0L;
        }, cancellationToken);

    public Task<bool> TryReserveQuotaAsync(string scope, DateOnly day, long quota, CancellationToken cancellationToken) =>
        WithLockAsync(() => InTransaction(tx =>
        {
            var d = day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
            using (var q = Command("SELECT used FROM quota_usage WHERE scope = $s AND day = $d", tx, ("$s", scope), ("$d", d)))
            {
                if ((q.ExecuteScalar() is long used ? used : 0L) >= quota) return false;
            }
            using var up = Command("INSERT INTO quota_usage (scope, day, used) VALUES ($s, $d, 1) ON CONFLICT (scope, day) DO UPDATE SET used = used + 1", tx, ("$s", scope), ("$d", d));
            up.ExecuteNonQuery();
            return true;
        }), cancellationToken);

    public async ValueTask DisposeAsync()
    {
        _journal.Writer.TryComplete();
        if (_journalWriter is not null) await _journalWriter.ConfigureAwait(false);
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            await _connection.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
            _gate.Dispose();
        }
    }
}

/// <summary>Who holds a lease: host, pid and a process start token so a reused pid is not mistaken for the holder.</summary>
internal sealed record ProcessIdentity(string Host, int Pid, string StartToken)
{
    public static ProcessIdentity Current { get; } = new(Environment.MachineName, Environment.ProcessId, StartTokenOf(Environment.ProcessId) ?? "?");

    public static bool IsAlive(int pid, string startToken)
    {
        var token = StartTokenOf(pid);
        return token is not null && (startToken == "?" || token == startToken);
    }

    private static string? StartTokenOf(int pid)
    {
        try
        {
            // Field 22 of /proc/<pid>/stat is the start time in clock ticks since boot: unique per process.
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var afterComm = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            if (afterComm.Length > 19 && afterComm[0] != "Z") return afterComm[19];
            return null;
        }
        catch (IOException)
        {
            try
            {
                using var p = Process.GetProcessById(pid);
                return p.HasExited ? null : "?";
            }
            catch (ArgumentException)
            {
                return null;
            }
        }
    }
}
