using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Text;
using Ingot.Config;
using Ingot.Destinations;
using Ingot.Records;
using Ingot.Sources;
using Npgsql;

namespace Ingot.Postgres.Source;

/// <summary>
/// <c>type: postgres</c> (DESIGN §4.1): each stream is read in keyset pages ordered by <c>(cursor, primary key)</c>, one
/// unit of work per page, planned before fetching (<see cref="StreamPlanner"/>) and bounded by what is certainly committed
/// (<see cref="CommitFence"/>). A stream without a cursor is read in full every run. Each row is one record, read typed
/// into the page's <see cref="RowBatch"/> (<see cref="RowReader"/>), whose JSON is what PostgreSQL's <c>to_jsonb</c>
/// would write (<see cref="RecordColumn"/>); the raw archive gets each page as NDJSON.
/// </summary>
internal sealed class PostgresSource : ISource
{
    /// <summary>Records per fetched page (a unit of <c>page_size</c> rows streams as pages of at most this many).</summary>
    internal const int BatchRecords = 10_000;

    private const int BatchBytes = 16 << 20;

    private readonly PostgresSourceSpec _spec;
    private readonly TimeProvider _time;
    private readonly NpgsqlDataSource _db;
    private readonly ConcurrentDictionary<string, BatchColumn[]> _batchColumns = new(StringComparer.Ordinal);
    private readonly string _where;
    private readonly ConcurrentDictionary<string, StreamShape> _shapes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, HashSet<string>> _landedInWindow = new(StringComparer.Ordinal);

    public PostgresSource(PostgresSourceSpec spec, TimeProvider time)
    {
        _spec = spec;
        _time = time;
        var builder = new NpgsqlConnectionStringBuilder(spec.ConnectionString);
        builder.ApplicationName ??= "ingot";
        _db = NpgsqlDataSource.Create(builder.ConnectionString);
        _where = PostgresConnection.Describe(spec.ConnectionString);
        // Text arrives in the client encoding: UTF-8 unless the connection string says otherwise.
        _utf8 = IsUtf8(builder.Encoding) && (builder.ClientEncoding is null || IsUtf8(builder.ClientEncoding));

        static bool IsUtf8(string name) => name.Replace("-", "", StringComparison.Ordinal).Equals("UTF8", StringComparison.OrdinalIgnoreCase);
    }

    private readonly bool _utf8;

    public string Name => _spec.Name;

    public string SourceSystem => "postgres";

    public IReadOnlyList<string> Streams => _spec.Streams;

    /// <summary>What decides the records a page holds beside its bounds.</summary>
    private static UnitIdentity IdentityOf(PostgresStreamSpec s) => UnitIdentity.Of(
        ("source", "postgres"), ("relation", s.Table ?? s.Query!), ("primary_key", string.Join(",", s.PrimaryKey)), ("cursor", s.Cursor ?? ""),
        ("columns", s.Columns is null ? "*" : string.Join(",", s.Columns)), ("event_time", s.EventTime ?? ""));

    public async Task<SourcePlan> PlanAsync(PlanRequest request, CancellationToken cancellationToken)
    {
        var wanted = _spec.StreamSpecs.Where(s => request.Wants(s.Name)).ToList();
        var scope = new Dictionary<string, object> { ["database"] = _where };
        if (wanted.Count == 0) return new SourcePlan([], [], scope);
        await using var conn = await OpenAsync(forPlan: true, cancellationToken).ConfigureAwait(false);
        var role = new NpgsqlConnectionStringBuilder(_spec.ConnectionString).Username ?? "(current user)";
        var fence = await CommitFence.TakeAsync(conn, role, cancellationToken).ConfigureAwait(false);
        // One snapshot for every stream's key query: the counts and boundaries of a plan agree with each other.
        await using var tx = await conn.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken).ConfigureAwait(false);
        await using (var ro = new NpgsqlCommand("SET TRANSACTION READ ONLY", conn, tx)) await ro.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        var units = new List<WorkUnit>();
        var streams = new List<Sources.StreamPlan>();
        long rows = 0;
        var withoutCursor = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var s in wanted)
        {
            var shape = await ShapeAsync(conn, s, cancellationToken).ConfigureAwait(false);
            var planner = new StreamPlanner(shape, _spec.PageSize, _spec.Name, IdentityOf(s));
            var (streamUnits, plan, n) = await PlanStreamAsync(planner, conn, request, fence, s, cancellationToken).ConfigureAwait(false);
            units.AddRange(streamUnits);
            streams.Add(plan);
            rows += n;
            if (await planner.RowsWithoutCursorAsync(conn, cancellationToken).ConfigureAwait(false) is > 0 and var nulls) withoutCursor[s.Name] = nulls;
            _landedInWindow[s.Name] = LookbackMemo.Parse(request.FullRefresh ? null : request.Checkpoints.GetValueOrDefault(s.Name)?.Memo);
        }
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        scope["streams"] = wanted.Count;
        scope["rows"] = rows;
        scope["fence"] = fence.Text;
        if (fence.HeldBy is not null) scope["fence_held_by"] = fence.HeldBy;
        if (withoutCursor.Count > 0) scope["rows_with_null_cursor_not_read"] = withoutCursor;
        return new SourcePlan(units, streams, scope);
    }

    private static async Task<(List<WorkUnit>, Sources.StreamPlan, long)> PlanStreamAsync(StreamPlanner planner, NpgsqlConnection conn, PlanRequest request, CommitFence fence, PostgresStreamSpec s, CancellationToken cancellationToken)
    {
        try
        {
            return await planner.PlanAsync(conn, request, fence, cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException e) when (e.SqlState.StartsWith("42", StringComparison.Ordinal) || e.SqlState.StartsWith("22", StringComparison.Ordinal))
        {
            // The stream's query is wrong for this database (a type without ordering, a bad cast in a hand-written query).
            throw s.Spot(s.Table is null ? "query" : "table").Error($"stream {s.Name}: planning its pages failed: {e.MessageText}");
        }
    }

    private async Task<StreamShape> ShapeAsync(NpgsqlConnection conn, PostgresStreamSpec s, CancellationToken cancellationToken)
    {
        if (_shapes.TryGetValue(s.Name, out var shape)) return shape;
        shape = await StreamShape.ResolveAsync(conn, s, cancellationToken).ConfigureAwait(false);
        return _shapes.GetOrAdd(s.Name, shape);
    }

    private async Task<NpgsqlConnection> OpenAsync(bool forPlan, CancellationToken cancellationToken)
    {
        try
        {
            return await _db.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (PostgresConnection.IsConnectFailure(e))
        {
            var message = PostgresConnection.ConnectError(_spec.ConnectionString, e);
            // At plan time nothing has started: the run stops with the one line (exit 2). During a fetch the unit fails
            // with it and is retried by the next run.
            if (forPlan) throw new ConfigException($"source {_spec.Name}: {message}");
            throw new IOException(message);
        }
    }

    public async IAsyncEnumerable<FetchedPage> FetchAsync(WorkUnit unit, IUnitContext context, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var bounds = unit.Bounds as CursorBounds ?? throw new ArgumentException($"unit {unit.Key} is not a keyset page", nameof(unit));
        var spec = _spec.StreamSpecs.FirstOrDefault(s => s.Name == unit.Stream) ?? throw new ArgumentException($"stream {unit.Stream} is not a stream of source {Name}", nameof(unit));
        var after = KeysetPosition.Parse(bounds.After);
        var upTo = KeysetPosition.Parse(bounds.UpTo) ?? throw new FormatException($"unit {unit.Key} has no upper bound");
        await using var conn = await OpenAsync(forPlan: false, cancellationToken).ConfigureAwait(false);
        var shape = await ShapeAsync(conn, spec, cancellationToken).ConfigureAwait(false);
        // A look-back page lands only the rows its checkpoint's memo does not name (landed by the read that passed them).
        var skip = unit.Key.StartsWith($"{spec.Name}-lookback-", StringComparison.Ordinal) ? _landedInWindow.GetValueOrDefault(spec.Name) ?? [] : null;
        var where = new Conditions(shape);
        where.After(after);
        where.Before(upTo);
        var keyTexts = skip is null ? "" : ", " + string.Join(", ", shape.KeyTexts());
        // The event time is selected on its own only when it is not a record column read anyway.
        var eventColumn = shape.EventColumn;
        var eventTs = eventColumn >= 0 ? "" : $", {shape.EventTs}";
        var sql = $"SELECT {string.Join(", ", shape.Columns.Select(c => c.Expression))}{eventTs}{keyTexts} FROM {shape.From} WHERE {where.Text} ORDER BY {shape.OrderBy}";
        var request = $"SELECT {shape.Relation} {Conditions.Describe(after, upTo)} ON {_where}";
        await using var cmd = where.Command(sql, conn);
        cmd.CommandTimeout = 0;
        await using var reader = await cmd.ExecuteReaderAsync(System.Data.CommandBehavior.SequentialAccess, cancellationToken).ConfigureAwait(false);
        var columns = _batchColumns.GetOrAdd(spec.Name, _ => RowReader.BatchColumns(shape.Columns));
        var rows = Math.Min(BatchRecords, _spec.PageSize);
        var batch = new RowBatch(columns, rows);
        var records = new Record[rows];
        var first = true;
        var texts = skip is null ? [] : new string[shape.KeyColumns.Count];
        var row = new RowReader(shape.Columns, _utf8, eventColumn);
        var ev = shape.Columns.Count;
        var keysAt = eventColumn >= 0 ? ev : ev + 1;
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            row.Read(reader, 0, batch);
            var ts = eventColumn >= 0 ? row.EventTime : reader.IsDBNull(ev) ? null : new DateTimeOffset(reader.GetFieldValue<DateTime>(ev), TimeSpan.Zero);
            if (skip is not null)
            {
                for (var i = 0; i < texts.Length; i++) texts[i] = reader.GetString(keysAt + i);
                if (skip.Contains(LookbackMemo.Hash(texts)))
                {
                    // Landed before: the row is not kept.
                    batch.DropRow();
                    continue;
                }
            }
            batch.EndRow();
            records[batch.Count - 1] = Record.FromBatch(batch, batch.Count - 1, ts);
            if (batch.Count >= BatchRecords || batch.NdjsonLength >= BatchBytes)
            {
                yield return Page(unit, batch, records, request, !first);
                first = false;
                batch = new RowBatch(columns, rows);
                records = new Record[rows];
            }
        }
        if (batch.Count > 0 || first) yield return Page(unit, batch, records, request, !first);
    }

    private FetchedPage Page(WorkUnit unit, RowBatch batch, Record[] records, string request, bool continues)
    {
        if (records.Length != batch.Count) Array.Resize(ref records, batch.Count);
        return new FetchedPage(unit.Key, default, request, 200, _time.GetUtcNow(), records)
        {
            Batch = batch,
            ContinuesRaw = continues,
            RawExtension = "ndjson",
        };
    }

    public ValueTask DisposeAsync() => _db.DisposeAsync();
}
