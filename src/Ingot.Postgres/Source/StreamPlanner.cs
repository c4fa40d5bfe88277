using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Ingot.Destinations;
using Ingot.Sources;
using Ingot.State;
using Npgsql;

namespace Ingot.Postgres.Source;

/// <summary>
/// Plans one stream's keyset pages before anything is fetched, from a key-only query in one snapshot: every
/// <c>page_size</c>-th <c>(cursor, key)</c> below the fence is a page boundary, counted on the server (only the boundaries
/// travel). The units are stored by the engine before fetching, so a resumed run asks exactly the same pages: a plan whose
/// units are not all done is planned again from the stored units (same keys, same bounds), never re-cut.
/// <para>
/// A plan is a chain: each unit starts where the one before it ends, and the last ends at the plan's fence. Every
/// position carries the fence of its plan (<see cref="KeysetPosition"/>), so the stored units of one plan are found again
/// by it. A unit's key is the stream, the stamp of its lower bound and a hash of both bounds: deterministic, file-name safe.
/// </para>
/// </summary>
internal sealed class StreamPlanner(StreamShape shape, int pageSize, string sourceName, UnitIdentity identity)
{
    private PostgresStreamSpec Spec => shape.Spec;

    private string LookbackPrefix => $"{Spec.Name}-lookback-";

    /// <summary>
    /// Rows whose cursor is NULL: no keyset page can hold them (a NULL is in no range), so they are not read — counted at
    /// plan time and shown in the plan's scope, never dropped without a word.
    /// </summary>
    public async Task<long> RowsWithoutCursorAsync(NpgsqlConnection conn, CancellationToken cancellationToken)
    {
        if (!shape.HasCursor) return 0;
        await using var cmd = new NpgsqlCommand($"SELECT count(*) FROM {shape.From} WHERE ingot_q.{Sql.Quote(Spec.Cursor!)} IS NULL", conn) { CommandTimeout = 0 };
        return (long)(await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    /// <summary>The stream's units for this run, in stream order, and its load type and lower bound.</summary>
    public async Task<(List<WorkUnit> Units, StreamPlan Plan, long Rows)> PlanAsync(NpgsqlConnection conn, PlanRequest request, CommitFence fence, CancellationToken cancellationToken)
    {
        var mark = request.FullRefresh ? null : request.Checkpoints.GetValueOrDefault(Spec.Name);
        var checkpoint = KeysetPosition.Parse(mark?.Value);
        var memo = mark?.Memo;
        var chains = StoredChains(request.Known);
        var unfinished = request.FullRefresh ? null : chains.LastOrDefault(c => c.Any(u => u.State.Status != ChunkStatus.Done));
        var units = new List<WorkUnit>();
        long rows = 0;

        if (!shape.HasCursor)
        {
            // Read in full every run: a new chain (its fence names the read) unless the last one is unfinished.
            if (unfinished is not null)
            {
                units.AddRange(unfinished.Select(u => Stored(u, LoadType.Full, u.Bounds.UpTo!)));
            }
            else
            {
                var (chain, n) = await NewChainAsync(conn, null, fence, LoadType.Full, cancellationToken).ConfigureAwait(false);
                units.AddRange(chain);
                rows = n;
            }
            return (units, new StreamPlan(Spec.Name, sourceName, LoadType.Full, null), rows);
        }

        var loadType = checkpoint is null ? LoadType.Full : LoadType.Incremental;
        KeysetPosition? from = checkpoint;
        if (request.Refresh && !request.FullRefresh)
        {
            // --refresh: every landed page is read again with its own bounds and replaces itself; the checkpoint does not
            // move back while they land (their checkpoint is the current one). Look-back pages are retired: the pages
            // re-read below them hold their rows now.
            var lateKeys = request.Known.Values.Where(k => k.Stream == Spec.Name && k.Status == ChunkStatus.Done && k.Key.StartsWith(LookbackPrefix, StringComparison.Ordinal)).Select(k => k.Key).ToList();
            foreach (var chain in chains.Where(c => !ReferenceEquals(c, unfinished)))
            {
                var chainLoad = chain[0].Bounds.After is null ? LoadType.Full : LoadType.Incremental;
                units.AddRange(chain.Select(u => Stored(u, chainLoad, mark?.Value ?? u.Bounds.UpTo!) with { CheckpointMemo = memo }));
            }
            if (units.Count > 0 && lateKeys.Count > 0) units[^1] = units[^1] with { Replaces = lateKeys };
        }
        if (unfinished is not null)
        {
            var chainLoad = unfinished[0].Bounds.After is null ? LoadType.Full : LoadType.Incremental;
            units.AddRange(unfinished.Select(u => Stored(u, chainLoad, u.Bounds.UpTo!)));
            from = KeysetPosition.Parse(unfinished[^1].Bounds.UpTo);
            loadType = chainLoad;
        }
        else if (checkpoint is { IsFence: true } && Spec.Lookback > TimeSpan.Zero && !request.Refresh)
        {
            var late = await LookbackUnitAsync(conn, checkpoint, memo, cancellationToken).ConfigureAwait(false);
            if (late is not null) units.Add(late);
        }
        var (fresh, count) = await NewChainAsync(conn, from, fence, loadType, cancellationToken).ConfigureAwait(false);
        units.AddRange(fresh);
        rows = count;
        // The memo travels with the checkpoint of the plan's end: the keys landed in its last look-back window.
        if (Spec.Lookback > TimeSpan.Zero && units.Count > 0 && KeysetPosition.Parse(units[^1].Checkpoint) is { IsFence: true } end && !units[^1].Key.StartsWith(LookbackPrefix, StringComparison.Ordinal))
            units[^1] = units[^1] with { CheckpointMemo = await WindowMemoAsync(conn, end, cancellationToken).ConfigureAwait(false) };
        return (units, new StreamPlan(Spec.Name, sourceName, loadType, checkpoint?.ToString()), rows);
    }

    private sealed record StoredUnit(ChunkState State, CursorBounds Bounds);

    /// <summary>Stored page units of the stream (look-back units aside), grouped by the plan that made them, oldest plan first, each in chain order.</summary>
    private List<List<StoredUnit>> StoredChains(IReadOnlyDictionary<string, ChunkState> known)
    {
        var stored = known.Values
            .Where(k => k.Stream == Spec.Name && !k.Key.StartsWith(LookbackPrefix, StringComparison.Ordinal))
            .Select(k => (State: k, Bounds: UnitBounds.FromJson(k.Bounds) as CursorBounds))
            .Where(x => x.Bounds?.UpTo is not null)
            .Select(x => new StoredUnit(x.State, x.Bounds!))
            .ToList();
        var chains = new List<List<StoredUnit>>();
        foreach (var group in stored.GroupBy(u => KeysetPosition.Parse(u.Bounds.UpTo)!.Fence, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var byAfter = group.GroupBy(u => u.Bounds.After ?? "", StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
            var ends = group.Select(u => u.Bounds.UpTo!).ToHashSet(StringComparer.Ordinal);
            var first = group.FirstOrDefault(u => !ends.Contains(u.Bounds.After ?? "\0"));
            var chain = new List<StoredUnit>();
            for (var u = first; u is not null && chain.Count < group.Count(); u = byAfter.GetValueOrDefault(u.Bounds.UpTo!))
                chain.Add(u);
            // A chain with a gap cannot be resumed page by page: its remaining units still land, in key order.
            foreach (var rest in group.Except(chain).OrderBy(u => u.State.Key, StringComparer.Ordinal)) chain.Add(rest);
            chains.Add(chain);
        }
        return chains;
    }

    private WorkUnit Stored(StoredUnit u, LoadType loadType, string checkpoint) =>
        new(u.State.Key, Spec.Name, sourceName, "postgres", u.Bounds, identity, loadType) { Checkpoint = checkpoint };

    private WorkUnit NewUnit(KeysetPosition? after, KeysetPosition upTo, LoadType loadType, string kind = "")
    {
        var afterText = after?.ToString();
        var upToText = upTo.ToString();
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{afterText}\n{upToText}")))[..10];
        var stamp = after is null ? (shape.HasCursor ? "start" : upTo.Stamp(false)) : after.Stamp(shape.HasCursor);
        var key = shape.HasCursor ? $"{Spec.Name}-{kind}{stamp}-{hash}" : $"{Spec.Name}-full-{upTo.Stamp(false)}-{hash}";
        return new WorkUnit(key, Spec.Name, sourceName, "postgres", new CursorBounds(afterText, upToText), identity, loadType, 0, 1) { Checkpoint = upToText };
    }

    /// <summary>Pages from <paramref name="after"/> up to the fence: boundaries every <c>page_size</c> rows, found on the server.</summary>
    private async Task<(List<WorkUnit> Units, long Rows)> NewChainAsync(NpgsqlConnection conn, KeysetPosition? after, CommitFence fence, LoadType loadType, CancellationToken cancellationToken)
    {
        var fenceText = shape.HasCursor ? await CursorFenceAsync(conn, fence, cancellationToken).ConfigureAwait(false) : fence.Text;
        var end = new KeysetPosition(fenceText, null);
        var where = new Conditions(shape);
        where.After(after);
        where.Before(end);
        var (boundaries, total) = await SeeksPayAsync(conn, where, cancellationToken).ConfigureAwait(false)
            ? await BoundariesBySeekAsync(conn, where, after, end, cancellationToken).ConfigureAwait(false)
            : await BoundariesByRowNumberAsync(conn, where, cancellationToken).ConfigureAwait(false);
        var units = new List<WorkUnit>();
        if (total == 0) return (units, 0);
        var previous = after;
        foreach (var key in boundaries)
        {
            var boundary = new KeysetPosition(fenceText, key);
            units.Add(NewUnit(previous, boundary, loadType));
            previous = boundary;
        }
        units.Add(NewUnit(previous, end, loadType));
        return (units, total);
    }

    private string KeyList(string alias) => string.Join(", ", shape.KeyColumns.Select(k => $"{alias}.{Sql.Quote(k)}"));

    /// <summary>The page's first boundary: the <c>page_size</c>-th row of the range in keyset order.</summary>
    private string FirstBoundarySql(Conditions where, string extra = "") =>
        $"SELECT {KeyList("ingot_q")}{extra} FROM {shape.From} WHERE {where.Text} ORDER BY {shape.OrderBy} OFFSET {pageSize - 1} LIMIT 1";

    private string RowNumberSql(Conditions where) =>
        $"SELECT {KeyList("ingot_q")}, row_number() OVER (ORDER BY {shape.OrderBy}) AS ingot_rn FROM {shape.From} WHERE {where.Text}";

    /// <summary>
    /// Whether seeking boundary to boundary (one ordered probe of <c>page_size</c> rows per page) is cheaper than numbering
    /// every row in one ordered pass, by the server's own estimates: with an index on <c>(cursor, key…)</c> — what a table
    /// read this way has — a probe reads one page's index entries (measured on 1 M orders: 80 ms against 840 ms); without
    /// one, each probe would sort the table, and the numbering pass is kept.
    /// </summary>
    private async Task<bool> SeeksPayAsync(NpgsqlConnection conn, Conditions where, CancellationToken cancellationToken)
    {
        var (seekCost, _) = await EstimateAsync(conn, where, FirstBoundarySql(where), cancellationToken).ConfigureAwait(false);
        var (numberCost, rows) = await EstimateAsync(conn, where, RowNumberSql(where), cancellationToken).ConfigureAwait(false);
        // One probe per boundary, and one more that finds the range ends.
        return seekCost * (Math.Floor(rows / pageSize) + 1) < numberCost;
    }

    /// <summary>The planner's total cost and row count of a statement (EXPLAIN, nothing run).</summary>
    private static async Task<(double Cost, double Rows)> EstimateAsync(NpgsqlConnection conn, Conditions where, string sql, CancellationToken cancellationToken)
    {
        await using var cmd = where.Command($"EXPLAIN (FORMAT JSON) {sql}", conn);
        var json = (string)(await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        using var plan = JsonDocument.Parse(json);
        var top = plan.RootElement[0].GetProperty("Plan");
        return (top.GetProperty("Total Cost").GetDouble(), top.GetProperty("Plan Rows").GetDouble());
    }

    /// <summary>Every <c>page_size</c>-th row but the last row, numbered in one ordered pass; and the rows in the range.</summary>
    private async Task<(List<string[]> Boundaries, long Rows)> BoundariesByRowNumberAsync(NpgsqlConnection conn, Conditions where, CancellationToken cancellationToken)
    {
        long total;
        await using (var count = where.Command($"SELECT count(*) FROM {shape.From} WHERE {where.Text}", conn))
            total = (long)(await count.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        if (total == 0) return ([], 0);
        var sql = $"SELECT {string.Join(", ", shape.KeyTexts())} FROM ({RowNumberSql(where)}) ingot_q " +
                  $"WHERE ingot_q.ingot_rn % {pageSize} = 0 AND ingot_q.ingot_rn < {total} ORDER BY ingot_q.ingot_rn";
        return (await ReadKeysAsync(conn, where, sql, cancellationToken).ConfigureAwait(false), total);
    }

    /// <summary>
    /// The same boundaries by seeking: a recursive query whose every step skips <c>page_size</c> rows past the previous
    /// boundary. The rows past the last boundary are counted (at most a page); a boundary on the range's last row is dropped,
    /// as the numbering pass never makes it.
    /// </summary>
    private async Task<(List<string[]> Boundaries, long Rows)> BoundariesBySeekAsync(NpgsqlConnection conn, Conditions where, KeysetPosition? after, KeysetPosition end, CancellationToken cancellationToken)
    {
        var sql = $"WITH RECURSIVE ingot_b AS (({FirstBoundarySql(where, ", 1 AS ingot_n")}) " +
                  $"UNION ALL SELECT {KeyList("ingot_s")}, ingot_b.ingot_n + 1 FROM ingot_b CROSS JOIN LATERAL (SELECT {KeyList("ingot_q")} FROM {shape.From} " +
                  $"WHERE {where.Text} AND ({KeyList("ingot_q")}) > ({KeyList("ingot_b")}) ORDER BY {shape.OrderBy} OFFSET {pageSize - 1} LIMIT 1) ingot_s) " +
                  $"SELECT {string.Join(", ", shape.KeyTexts())} FROM ingot_b ingot_q ORDER BY ingot_q.ingot_n";
        var boundaries = await ReadKeysAsync(conn, where, sql, cancellationToken).ConfigureAwait(false);
        var tail = new Conditions(shape);
        tail.After(boundaries.Count > 0 ? new KeysetPosition(end.Fence, boundaries[^1]) : after);
        tail.Before(end);
        long rest;
        await using (var count = tail.Command($"SELECT count(*) FROM {shape.From} WHERE {tail.Text}", conn))
            rest = (long)(await count.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        if (rest == 0 && boundaries.Count > 0)
        {
            boundaries.RemoveAt(boundaries.Count - 1);
            rest = pageSize;
        }
        return (boundaries, (long)boundaries.Count * pageSize + rest);
    }

    private async Task<List<string[]>> ReadKeysAsync(NpgsqlConnection conn, Conditions where, string sql, CancellationToken cancellationToken)
    {
        var keys = new List<string[]>();
        await using var cmd = where.Command(sql, conn);
        cmd.CommandTimeout = 0;
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var key = new string[shape.KeyColumns.Count];
            for (var i = 0; i < key.Length; i++) key[i] = reader.GetString(i);
            keys.Add(key);
        }
        return keys;
    }

    /// <summary>The fence in the cursor's own type and text form (a timestamp without zone in the server's TimeZone, a date as that day).</summary>
    private async Task<string> CursorFenceAsync(NpgsqlConnection conn, CommitFence fence, CancellationToken cancellationToken)
    {
        var typed = shape.CursorKind switch
        {
            CursorKind.TimestampTz => "@f::timestamptz",
            CursorKind.Timestamp => "(@f::timestamptz)::timestamp",
            _ => "(@f::timestamptz)::date",
        };
        await using var cmd = new NpgsqlCommand($"SELECT {shape.CursorText(typed)}", conn);
        cmd.Parameters.AddWithValue("f", fence.Text);
        return (string)(await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    /// <summary>The keys of rows whose cursor lies in <c>[end − lookback, end)</c>, as the memo kept with a checkpoint at <paramref name="end"/>.</summary>
    private async Task<string> WindowMemoAsync(NpgsqlConnection conn, KeysetPosition end, CancellationToken cancellationToken)
    {
        var keys = new List<string>();
        await foreach (var key in WindowKeysAsync(conn, end, cancellationToken).ConfigureAwait(false)) keys.Add(key);
        keys.Sort(StringComparer.Ordinal);
        return JsonSerializer.Serialize(new LookbackMemo(keys));
    }

    private async IAsyncEnumerable<string> WindowKeysAsync(NpgsqlConnection conn, KeysetPosition end, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var type = shape.Types[Spec.Cursor!];
        var sql = $"SELECT {string.Join(", ", shape.KeyTexts())} FROM {shape.From} WHERE ingot_q.{Sql.Quote(Spec.Cursor!)} >= (@e::{type} - @lb::interval)::{type} AND ingot_q.{Sql.Quote(Spec.Cursor!)} < @e::{type}";
        await using var cmd = new NpgsqlCommand(sql, conn) { CommandTimeout = 0 };
        cmd.Parameters.AddWithValue("e", end.Fence);
        cmd.Parameters.AddWithValue("lb", Spec.Lookback);
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var texts = new string[shape.KeyColumns.Count];
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            for (var i = 0; i < texts.Length; i++) texts[i] = reader.GetString(i);
            yield return LookbackMemo.Hash(texts);
        }
    }

    /// <summary>
    /// The look-back page: rows in <c>[checkpoint − lookback, checkpoint)</c> that the memo does not name (committed after
    /// the read that passed them). Planned only when there is one; its checkpoint is the current one.
    /// </summary>
    private async Task<WorkUnit?> LookbackUnitAsync(NpgsqlConnection conn, KeysetPosition checkpoint, string? memo, CancellationToken cancellationToken)
    {
        var landed = LookbackMemo.Parse(memo);
        var fresh = 0;
        await foreach (var key in WindowKeysAsync(conn, checkpoint, cancellationToken).ConfigureAwait(false))
        {
            if (landed.Add(key)) fresh++;
        }
        if (fresh == 0) return null;
        // Once this page is done, its rows are landed too: the memo kept with the (unchanged) checkpoint names them.
        var after = JsonSerializer.Serialize(new LookbackMemo([.. landed.Order(StringComparer.Ordinal)]));
        var type = shape.Types[Spec.Cursor!];
        await using var cmd = new NpgsqlCommand($"SELECT {shape.CursorText($"(@e::{type} - @lb::interval)::{type}")}", conn);
        cmd.Parameters.AddWithValue("e", checkpoint.Fence);
        cmd.Parameters.AddWithValue("lb", Spec.Lookback);
        var start = new KeysetPosition((string)(await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!, null);
        return NewUnit(start, checkpoint, LoadType.Incremental, "lookback-") with { Checkpoint = checkpoint.ToString(), CheckpointMemo = after };
    }
}

/// <summary>The memo kept with a checkpoint of a stream with a look-back: a short hash of each row's key landed in the window below it.</summary>
internal sealed record LookbackMemo(IReadOnlyList<string> LookbackKeys)
{
    /// <summary>16 hex digits of sha256 over the key texts (cursor first): 64 bits, so a window of a million rows collides with odds of about 1 in 36 million.</summary>
    public static string Hash(IReadOnlyList<string> keyTexts) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\u001f', keyTexts))))[..16];

    public static HashSet<string> Parse(string? memo)
    {
        if (string.IsNullOrEmpty(memo)) return new HashSet<string>(StringComparer.Ordinal);
        var parsed = JsonSerializer.Deserialize<LookbackMemo>(memo);
        return new HashSet<string>(parsed?.LookbackKeys ?? [], StringComparer.Ordinal);
    }
}
