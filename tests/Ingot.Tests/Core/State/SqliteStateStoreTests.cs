using Ingot.Destinations;
using Ingot.State;
using Microsoft.Data.Sqlite;

namespace Ingot.Tests.Core.State;

public sealed class SqliteStateStoreTests : IAsyncLifetime
{
    private const string Pipeline = "knmi-daily";
    private const string Key = "06260_20000101T000000Z_20000301T000000Z";
    private static readonly CancellationToken Ct = CancellationToken.None;
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(30);

    private readonly string _dir = Directory.CreateTempSubdirectory("ingot-state-").FullName;
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero));
    private SqliteStateStore _store = null!;

    private string DbPath => Path.Combine(_dir, "state.db");

    public ValueTask InitializeAsync()
    {
        _store = SqliteStateStore.Open(DbPath, _clock);
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await _store.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    private object? Scalar(string sql, params (string Name, object Value)[] args)
    {
        using var connection = new SqliteConnection($"Data Source={DbPath};Pooling=False");
        connection.Open();
        using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        foreach (var (name, value) in args) cmd.Parameters.AddWithValue(name, value);
        return cmd.ExecuteScalar();
    }

    private static LandedFile File(string path) => new("raw", path, $"sha-{path}", path.Length);

    private async Task<ChunkState> ChunkAsync(string key = Key) => (await _store.GetChunksAsync(Pipeline, Ct))[key];

    // ---- schema ----

    [Fact]
    public async Task Open_Twice_MigratesOnceToSchemaVersion()
    {
        // Given: the store opened in InitializeAsync
        await _store.DisposeAsync();

        // When
        _store = SqliteStateStore.Open(DbPath, _clock);

        // Then
        Scalar("SELECT MAX(version) FROM schema_version").ShouldBe((long)SqliteStateStore.SchemaVersion);
        Scalar("SELECT COUNT(*) FROM schema_version").ShouldBe((long)SqliteStateStore.SchemaVersion);
        SqliteStateStore.SchemaVersion.ShouldBeGreaterThanOrEqualTo(1);
        _store.Describe.ShouldBe($"sqlite:{DbPath}");
    }

    [Fact]
    public async Task Open_Reopened_KeepsData()
    {
        // Given
        await _store.SetWatermarkAsync(Pipeline, "obs", "2020-01-01", 10, Ct);
        await _store.DisposeAsync();

        // When
        _store = SqliteStateStore.Open(DbPath, _clock);

        // Then
        (await _store.GetWatermarksAsync(Pipeline, Ct)).Single().Value.ShouldBe("2020-01-01");
    }

    [Fact]
    public async Task Open_NewerSchema_Refuses()
    {
        // Given
        await _store.DisposeAsync();
        Scalar("INSERT INTO schema_version (version) VALUES ($v)", ("$v", SqliteStateStore.SchemaVersion + 1));

        // When
        var e = Should.Throw<InvalidOperationException>(() => _store = SqliteStateStore.Open(DbPath, _clock));

        // Then
        e.Message.ShouldContain("newer than this ingot");
        _store = SqliteStateStore.Open(Path.Combine(_dir, "other.db"), _clock);
    }

    // ---- leases ----

    [Fact]
    public async Task TryAcquireLease_Free_Acquires()
    {
        // When
        var result = await _store.TryAcquireLeaseAsync(Pipeline, Guid.NewGuid(), Ttl, Ct);

        // Then
        result.ShouldBe(new LeaseResult(true, null, false));
    }

    [Fact]
    public async Task TryAcquireLease_HeldByAnotherLiveRun_FailsWithHolder()
    {
        // Given
        var first = Guid.NewGuid();
        await _store.TryAcquireLeaseAsync(Pipeline, first, Ttl, Ct);

        // When
        var result = await _store.TryAcquireLeaseAsync(Pipeline, Guid.NewGuid(), Ttl, Ct);

        // Then
        result.Acquired.ShouldBeFalse();
        result.TookOver.ShouldBeFalse();
        var holder = result.Holder.ShouldNotBeNull();
        holder.RunId.ShouldBe(first);
        holder.Host.ShouldBe(Environment.MachineName);
        holder.Pid.ShouldBe(Environment.ProcessId);
        holder.HeartbeatAt.ShouldBe(_clock.GetUtcNow());
        holder.ExpiresAt.ShouldBe(_clock.GetUtcNow() + Ttl);
    }

    [Fact]
    public async Task TryAcquireLease_OtherPipeline_IsIndependent()
    {
        // Given
        await _store.TryAcquireLeaseAsync(Pipeline, Guid.NewGuid(), Ttl, Ct);

        // When
        var result = await _store.TryAcquireLeaseAsync("noaa", Guid.NewGuid(), Ttl, Ct);

        // Then
        result.Acquired.ShouldBeTrue();
    }

    [Fact]
    public async Task TryAcquireLease_Expired_TakesOver()
    {
        // Given
        var first = Guid.NewGuid();
        await _store.TryAcquireLeaseAsync(Pipeline, first, Ttl, Ct);
        _clock.Advance(Ttl + TimeSpan.FromSeconds(1));

        // When
        var result = await _store.TryAcquireLeaseAsync(Pipeline, Guid.NewGuid(), Ttl, Ct);

        // Then
        result.Acquired.ShouldBeTrue();
        result.TookOver.ShouldBeTrue();
        result.Holder.ShouldNotBeNull().RunId.ShouldBe(first);
    }

    [Fact]
    public async Task TryAcquireLease_NotYetExpired_Fails()
    {
        // Given
        await _store.TryAcquireLeaseAsync(Pipeline, Guid.NewGuid(), Ttl, Ct);
        _clock.Advance(Ttl - TimeSpan.FromSeconds(1));

        // When
        var result = await _store.TryAcquireLeaseAsync(Pipeline, Guid.NewGuid(), Ttl, Ct);

        // Then
        result.Acquired.ShouldBeFalse();
    }

    [Fact]
    public async Task TryAcquireLease_HolderProcessDeadOnThisHost_TakesOverAtOnce()
    {
        // Given: a lease far from expiry, held by a pid that does not exist on this host (above pid_max)
        const int deadPid = 999_999_999;
        var deadRun = Guid.NewGuid();
        var now = _clock.GetUtcNow();
        Scalar(
            "INSERT INTO leases (pipeline, run_id, host, pid, process_start, heartbeat_at, expires_at) VALUES ($p, $r, $h, $pid, '12345', $hb, $exp)",
            ("$p", Pipeline), ("$r", deadRun.ToString()), ("$h", Environment.MachineName), ("$pid", deadPid),
            ("$hb", now.UtcDateTime.ToString("O")), ("$exp", now.AddHours(1).UtcDateTime.ToString("O")));

        // When
        var result = await _store.TryAcquireLeaseAsync(Pipeline, Guid.NewGuid(), Ttl, Ct);

        // Then
        result.Acquired.ShouldBeTrue();
        result.TookOver.ShouldBeTrue();
        var holder = result.Holder.ShouldNotBeNull();
        holder.RunId.ShouldBe(deadRun);
        holder.Pid.ShouldBe(deadPid);
    }

    [Fact]
    public async Task TryAcquireLease_HolderOnAnotherHost_WaitsForExpiry()
    {
        // Given: the same dead pid, but on another host: we cannot see its processes
        var now = _clock.GetUtcNow();
        Scalar(
            "INSERT INTO leases (pipeline, run_id, host, pid, process_start, heartbeat_at, expires_at) VALUES ($p, $r, 'elsewhere', 999999999, '1', $hb, $exp)",
            ("$p", Pipeline), ("$r", Guid.NewGuid().ToString()), ("$hb", now.UtcDateTime.ToString("O")), ("$exp", now.AddHours(1).UtcDateTime.ToString("O")));

        // When
        var result = await _store.TryAcquireLeaseAsync(Pipeline, Guid.NewGuid(), Ttl, Ct);

        // Then
        result.Acquired.ShouldBeFalse();
        result.Holder.ShouldNotBeNull().Host.ShouldBe("elsewhere");
    }

    [Fact]
    public async Task RenewLease_ByHolder_ExtendsExpiry()
    {
        // Given
        var run = Guid.NewGuid();
        await _store.TryAcquireLeaseAsync(Pipeline, run, Ttl, Ct);
        _clock.Advance(TimeSpan.FromSeconds(20));

        // When
        var renewed = await _store.RenewLeaseAsync(Pipeline, run, Ttl, Ct);
        _clock.Advance(TimeSpan.FromSeconds(20));
        var other = await _store.TryAcquireLeaseAsync(Pipeline, Guid.NewGuid(), Ttl, Ct);

        // Then: 40 s after acquiring, still held thanks to the renewal at 20 s
        renewed.ShouldBeTrue();
        other.Acquired.ShouldBeFalse();
        other.Holder.ShouldNotBeNull().ExpiresAt.ShouldBe(_clock.GetUtcNow() - TimeSpan.FromSeconds(20) + Ttl);
    }

    [Fact]
    public async Task RenewLease_AfterTakeOver_ReturnsFalse()
    {
        // Given
        var first = Guid.NewGuid();
        await _store.TryAcquireLeaseAsync(Pipeline, first, Ttl, Ct);
        _clock.Advance(Ttl * 2);
        await _store.TryAcquireLeaseAsync(Pipeline, Guid.NewGuid(), Ttl, Ct);

        // When
        var renewed = await _store.RenewLeaseAsync(Pipeline, first, Ttl, Ct);

        // Then
        renewed.ShouldBeFalse();
    }

    [Fact]
    public async Task ReleaseLease_ByHolder_FreesIt()
    {
        // Given
        var first = Guid.NewGuid();
        await _store.TryAcquireLeaseAsync(Pipeline, first, Ttl, Ct);

        // When
        await _store.ReleaseLeaseAsync(Pipeline, first, Ct);
        var result = await _store.TryAcquireLeaseAsync(Pipeline, Guid.NewGuid(), Ttl, Ct);

        // Then
        result.ShouldBe(new LeaseResult(true, null, false));
    }

    [Fact]
    public async Task ReleaseLease_ByOtherRun_KeepsIt()
    {
        // Given
        var first = Guid.NewGuid();
        await _store.TryAcquireLeaseAsync(Pipeline, first, Ttl, Ct);

        // When
        await _store.ReleaseLeaseAsync(Pipeline, Guid.NewGuid(), Ct);
        var result = await _store.TryAcquireLeaseAsync(Pipeline, Guid.NewGuid(), Ttl, Ct);

        // Then
        result.Acquired.ShouldBeFalse();
        result.Holder.ShouldNotBeNull().RunId.ShouldBe(first);
    }

    // ---- chunks ----

    [Fact]
    public async Task CommitChunk_NewChunk_IsDoneWithFilesAndOneAttempt()
    {
        // Given
        var run = Guid.NewGuid();
        var coveredTo = new DateTimeOffset(2000, 3, 1, 0, 0, 0, TimeSpan.Zero);
        await _store.JournalFileAsync(Pipeline, Key, "raw", "a.json", Ct);
        await _store.JournalFileAsync(Pipeline, Key, "raw", "b.json", Ct);

        // When
        var obsolete = await _store.CommitChunkAsync(Pipeline, Key, "obs", run, 42, coveredTo, [File("b.json"), File("a.json")], Ct);

        // Then
        obsolete.ShouldBeEmpty();
        var chunk = await ChunkAsync();
        chunk.Status.ShouldBe(ChunkStatus.Done);
        chunk.Records.ShouldBe(42);
        chunk.CoveredTo.ShouldBe(coveredTo);
        chunk.LastError.ShouldBeNull();
        chunk.Files.ShouldBe([File("a.json"), File("b.json")]);
    }

    [Fact]
    public async Task CommitChunk_JournaledFileNotKept_IsReturnedObsolete()
    {
        // Given
        var run = Guid.NewGuid();
        await _store.JournalFileAsync(Pipeline, Key, "raw", "a.json", Ct);
        await _store.JournalFileAsync(Pipeline, Key, "parquet", "part-0.parquet", Ct);

        // When
        var obsolete = await _store.CommitChunkAsync(Pipeline, Key, "obs", run, 1, DateTimeOffset.UnixEpoch, [File("a.json")], Ct);

        // Then
        obsolete.ShouldBe([new PendingDeletion(Pipeline, Key, "parquet", "part-0.parquet")]);
        (await _store.AbandonPendingAsync(Pipeline, Ct)).ShouldBe(obsolete);
        (await ChunkAsync()).Files.ShouldBe([File("a.json")]);
    }

    [Fact]
    public async Task CommitChunk_RefreshWithNewFiles_ObsoletesPreviousCommit()
    {
        // Given: a first commit kept old.json; the refresh lands new.json only
        var run = Guid.NewGuid();
        await _store.CommitChunkAsync(Pipeline, Key, "obs", run, 1, DateTimeOffset.UnixEpoch, [File("old.json")], Ct);
        var refresh = Guid.NewGuid();
        await _store.JournalFileAsync(Pipeline, Key, "raw", "new.json", Ct);

        // When
        var obsolete = await _store.CommitChunkAsync(Pipeline, Key, "obs", refresh, 2, DateTimeOffset.UnixEpoch, [File("new.json")], Ct);

        // Then
        obsolete.ShouldBe([new PendingDeletion(Pipeline, Key, "raw", "old.json")]);
        var chunk = await ChunkAsync();
        chunk.Files.ShouldBe([File("new.json")]);
        chunk.Attempts.ShouldBe(2);
        chunk.RunId.ShouldBe(refresh);
    }

    [Fact]
    public async Task FailChunk_AfterPartialAttempt_ReturnsPendingFilesAndKeepsCommitted()
    {
        // Given: a committed file, then a retry that journals new.json and rewrites the committed name
        var run = Guid.NewGuid();
        await _store.CommitChunkAsync(Pipeline, Key, "obs", run, 5, DateTimeOffset.UnixEpoch, [File("kept.json")], Ct);
        var retry = Guid.NewGuid();
        await _store.JournalFileAsync(Pipeline, Key, "raw", "new.json", Ct);
        await _store.JournalFileAsync(Pipeline, Key, "raw", "kept.json", Ct);

        // When
        var obsolete = await _store.FailChunkAsync(Pipeline, Key, "s", retry, "HTTP 500", Ct);

        // Then
        obsolete.ShouldBe([new PendingDeletion(Pipeline, Key, "raw", "new.json")]);
        var chunk = await ChunkAsync();
        chunk.Status.ShouldBe(ChunkStatus.Failed);
        chunk.LastError.ShouldBe("HTTP 500");
        chunk.Attempts.ShouldBe(2);
        chunk.RunId.ShouldBe(retry);
        chunk.Files.ShouldBe([File("kept.json")]);
    }

    [Fact]
    public async Task RecordSplit_RunningChunk_IsStored()
    {
        // Given

        // When
        await _store.RecordSplitAsync(Pipeline, Key, "{\"parts\":2}", Ct);

        // Then
        (await ChunkAsync()).Split.ShouldBe("{\"parts\":2}");
    }

    [Fact]
    public async Task ForgetDeletion_ObsoleteFile_IsNoLongerPending()
    {
        // Given
        var run = Guid.NewGuid();
        await _store.JournalFileAsync(Pipeline, Key, "raw", "a.json", Ct);
        await _store.JournalFileAsync(Pipeline, Key, "raw", "b.json", Ct);
        var obsolete = await _store.FailChunkAsync(Pipeline, Key, "s", run, "boom", Ct);
        obsolete.Count.ShouldBe(2);

        // When
        await _store.ForgetDeletionAsync(obsolete.Single(d => d.Path == "a.json"), Ct);

        // Then
        (await _store.AbandonPendingAsync(Pipeline, Ct)).ShouldBe([new PendingDeletion(Pipeline, Key, "raw", "b.json")]);
    }

    [Fact]
    public async Task ForgetDeletion_CommittedFile_IsKept()
    {
        // Given
        var run = Guid.NewGuid();
        await _store.CommitChunkAsync(Pipeline, Key, "obs", run, 1, DateTimeOffset.UnixEpoch, [File("a.json")], Ct);

        // When
        await _store.ForgetDeletionAsync(new PendingDeletion(Pipeline, Key, "raw", "a.json"), Ct);

        // Then
        (await ChunkAsync()).Files.ShouldBe([File("a.json")]);
    }

    [Fact]
    public async Task AbandonChunk_InterruptedRefresh_ReturnsOnlyUncommittedFilesAndKeepsTheChunkDone()
    {
        // Given a done chunk whose refresh journaled a kept name and a new one, then was interrupted
        var run = Guid.NewGuid();
        await _store.CommitChunkAsync(Pipeline, Key, "obs", run, 5, DateTimeOffset.UnixEpoch, [File("kept.json")], Ct);
        await _store.JournalFilesAsync(Pipeline, Key, "raw", ["kept.json", "new.json"], Ct);

        // When the attempt is abandoned
        var obsolete = await _store.AbandonChunkAsync(Pipeline, Key, Ct);

        // Then only the new name goes, and the chunk is still done with one attempt
        obsolete.ShouldBe([new PendingDeletion(Pipeline, Key, "raw", "new.json")]);
        var chunk = await ChunkAsync();
        chunk.Status.ShouldBe(ChunkStatus.Done);
        chunk.Attempts.ShouldBe(1);
        chunk.Files.ShouldBe([File("kept.json")]);
    }

    [Fact]
    public async Task GetChunks_OtherPipeline_IsNotListed()
    {
        // Given
        await _store.CommitChunkAsync("other", Key, "obs", Guid.NewGuid(), 1, DateTimeOffset.UnixEpoch, [], Ct);

        // When
        var chunks = await _store.GetChunksAsync(Pipeline, Ct);

        // Then
        chunks.ShouldBeEmpty();
    }

    // ---- watermarks ----

    [Fact]
    public async Task SetWatermark_Twice_Upserts()
    {
        // Given
        await _store.SetWatermarkAsync(Pipeline, "obs", "2020-01-01", 10, Ct);
        _clock.Advance(TimeSpan.FromMinutes(5));

        // When
        await _store.SetWatermarkAsync(Pipeline, "obs", "2020-02-01", 25, Ct);
        await _store.SetWatermarkAsync(Pipeline, "alerts", "7", 1, Ct);

        // Then
        (await _store.GetWatermarksAsync(Pipeline, Ct)).ShouldBe(
        [
            new Watermark(Pipeline, "alerts", "7", 1, _clock.GetUtcNow()),
            new Watermark(Pipeline, "obs", "2020-02-01", 25, _clock.GetUtcNow()),
        ]);
        (await _store.GetWatermarksAsync("other", Ct)).ShouldBeEmpty();
    }

    // ---- quota ----

    [Fact]
    public async Task TryReserveQuota_UpToQuota_ThenRefuses()
    {
        // Given
        var day = new DateOnly(2025, 6, 1);

        // When
        var results = new List<bool>();
        for (var i = 0; i < 5; i++) results.Add(await _store.TryReserveQuotaAsync("knmi", day, 3, Ct));

        // Then
        results.ShouldBe([true, true, true, false, false]);
        (await _store.GetQuotaUsageAsync("knmi", day, Ct)).ShouldBe(3);
    }

    [Fact]
    public async Task TryReserveQuota_NextDayOrOtherScope_IsSeparate()
    {
        // Given
        var day = new DateOnly(2025, 6, 1);
        await _store.TryReserveQuotaAsync("knmi", day, 1, Ct);

        // When
        var sameDay = await _store.TryReserveQuotaAsync("knmi", day, 1, Ct);
        var nextDay = await _store.TryReserveQuotaAsync("knmi", day.AddDays(1), 1, Ct);
        var otherScope = await _store.TryReserveQuotaAsync("noaa", day, 1, Ct);

        // Then
        sameDay.ShouldBeFalse();
        nextDay.ShouldBeTrue();
        otherScope.ShouldBeTrue();
        (await _store.GetQuotaUsageAsync("knmi", day, Ct)).ShouldBe(1);
        (await _store.GetQuotaUsageAsync("knmi", day.AddDays(1), Ct)).ShouldBe(1);
        (await _store.GetQuotaUsageAsync("knmi", day.AddDays(2), Ct)).ShouldBe(0);
    }

    [Fact]
    public async Task TryReserveQuota_TwentyConcurrentCallers_NeverPassesQuota()
    {
        // Given
        var day = new DateOnly(2025, 6, 1);

        // When
        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Task.Run(() => _store.TryReserveQuotaAsync("knmi", day, 7, Ct))));

        // Then
        results.Count(r => r).ShouldBe(7);
        (await _store.GetQuotaUsageAsync("knmi", day, Ct)).ShouldBe(7);
    }

    [Fact]
    public async Task TryReserveQuota_TwoStoresOnOneFile_NeverPassesQuota()
    {
        // Given: a second store on the same file, as a second process would open it
        var day = new DateOnly(2025, 6, 1);
        await using var second = SqliteStateStore.Open(DbPath, _clock);

        // When
        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
            Task.Run(() => (i % 2 == 0 ? _store : second).TryReserveQuotaAsync("knmi", day, 7, Ct))));

        // Then
        results.Count(r => r).ShouldBe(7);
        (await second.GetQuotaUsageAsync("knmi", day, Ct)).ShouldBe(7);
    }

    // ---- runs ----

    [Fact]
    public async Task ListRuns_SeveralRuns_NewestFirstFilteredAndLimited()
    {
        // Given
        var t0 = _clock.GetUtcNow();
        var a = new RunRecord(Guid.NewGuid(), Pipeline, t0, null, "running", null, "run a.yaml", null);
        var b = new RunRecord(Guid.NewGuid(), "noaa", t0.AddMinutes(1), null, "running", null, "run b.yaml", null);
        var c = new RunRecord(Guid.NewGuid(), Pipeline, t0.AddMinutes(2), null, "running", null, "run c.yaml", null);
        foreach (var run in new[] { b, c, a }) await _store.StartRunAsync(run, Ct);

        // When
        var all = await _store.ListRunsAsync(null, 10, Ct);
        var knmi = await _store.ListRunsAsync(Pipeline, 10, Ct);
        var latest = await _store.ListRunsAsync(null, 2, Ct);

        // Then
        all.ShouldBe([c, b, a]);
        knmi.ShouldBe([c, a]);
        latest.ShouldBe([c, b]);
    }

    [Fact]
    public async Task FinishRun_StartedRun_RecordsOutcome()
    {
        // Given
        var run = new RunRecord(Guid.NewGuid(), Pipeline, _clock.GetUtcNow(), null, "running", null, "run p.yaml", null);
        await _store.StartRunAsync(run, Ct);
        _clock.Advance(TimeSpan.FromMinutes(3));

        // When
        await _store.FinishRunAsync(run.RunId, "failed", 1, "{\"failed\":2}", Ct);

        // Then
        (await _store.ListRunsAsync(Pipeline, 10, Ct)).Single().ShouldBe(
            run with { FinishedAt = _clock.GetUtcNow(), Status = "failed", ExitCode = 1, Summary = "{\"failed\":2}" });
    }

    [Fact]
    public async Task JournalFiles_ManyConcurrentLandings_EveryEntryIsDurableWhenItsCallReturns()
    {
        // Given 40 landings journaling at once (batched into shared synced transactions)
        var calls = Enumerable.Range(0, 40).Select(i =>
            _store.JournalFilesAsync(Pipeline, $"chunk-{i}", "raw", [$"raw/{i}/a.json", $"raw/{i}/b.json"], Ct)).ToList();

        // When they return
        await Task.WhenAll(calls);

        // Then every path is in the journal as pending, seen through another connection
        Convert.ToInt64(Scalar("SELECT count(*) FROM chunk_files WHERE pipeline = $p AND state = 'pending'", ("$p", Pipeline)), System.Globalization.CultureInfo.InvariantCulture)
            .ShouldBe(80);
        // And a failed chunk's pending files come back for deletion
        (await _store.FailChunkAsync(Pipeline, "chunk-7", "s", Guid.NewGuid(), "boom", Ct)).Select(d => d.Path).OrderBy(p => p, StringComparer.Ordinal)
            .ShouldBe(["raw/7/a.json", "raw/7/b.json"]);
    }
}
