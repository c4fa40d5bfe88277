using Ingot.Config;
using Ingot.Connectors;
using Ingot.Sources;

namespace Ingot.Postgres.Source;

/// <summary>Where a key sits in the pipeline file, so that checks against the database at plan time still point at it.</summary>
internal readonly record struct ConfigSpot(string File, long Line, long Column)
{
    public ConfigException Error(string message) => new(File, Line, Column, message);
}

/// <summary>One stream of a <c>type: postgres</c> source (DESIGN §4.1).</summary>
internal sealed record PostgresStreamSpec(
    string Name,
    string? Table,
    string? Query,
    IReadOnlyList<string> PrimaryKey,
    string? Cursor,
    string? EventTime,
    TimeSpan Lookback,
    IReadOnlyList<string>? Columns,
    IReadOnlyDictionary<string, ConfigSpot> Spots)
{
    /// <summary>The spot of a key of the stream's section (the section itself when the key is absent).</summary>
    public ConfigSpot Spot(string key) => Spots.TryGetValue(key, out var s) ? s : Spots[""];
}

/// <summary><c>type: postgres</c>: an Npgsql connection string (or <c>postgres://</c> URL), a page size, and its streams.</summary>
internal sealed record PostgresSourceSpec(string ConnectionString, int PageSize, IReadOnlyList<PostgresStreamSpec> StreamSpecs) : SourceSpec("postgres")
{
    public override IReadOnlyList<string> Streams => StreamSpecs.Select(s => s.Name).ToList();

    public override IEnumerable<string?> Secrets => [PostgresConnection.Password(ConnectionString)];

    public override IReadOnlyList<string> PrimaryKey(string stream) => StreamSpecs.FirstOrDefault(s => s.Name == stream)?.PrimaryKey ?? [];
}

internal sealed class PostgresSourceConnector : ISourceConnector
{
    public const int DefaultPageSize = 10_000;

    public string Type => "postgres";

    public SourceSpec Read(ConfigSection m)
    {
        var ctx = m.Context;
        var normalized = PostgresConnection.Read(m);
        var pageSize = m.Optional("page_size") is { } ps ? (int)ctx.Long(ps, 1, 10_000_000) : DefaultPageSize;
        m.Optional("name");
        var sections = m.OptionalSections("streams") ?? throw m.Error($"{m.Path}.streams: required key is missing (a postgres source reads one or more streams)");
        if (sections.Count == 0) throw m.ErrorAt("streams", $"{m.Path}.streams: must not be empty");
        var streams = new List<PostgresStreamSpec>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var s in sections)
        {
            var stream = ReadStream(s);
            if (!names.Add(stream.Name)) throw s.ErrorAt("name", $"{s.Path}.name: stream '{stream.Name}' is defined twice");
            streams.Add(stream);
        }
        m.RejectUnknown();
        return new PostgresSourceSpec(normalized, pageSize, streams);
    }

    private static PostgresStreamSpec ReadStream(ConfigSection s)
    {
        var ctx = s.Context;
        var spots = new Dictionary<string, ConfigSpot>(StringComparer.Ordinal) { [""] = new(ctx.File, s.Node.Start.Line, s.Node.Start.Column) };
        void Mark(string key, ConfigScalar v) => spots[key] = new(ctx.File, v.Node.Start.Line, v.Node.Start.Column);

        var name = s.Required("name");
        if (!System.Text.RegularExpressions.Regex.IsMatch(name.Value, "^[a-z0-9_-]+$"))
            throw ctx.Error(name.Node, $"{s.Path}.name: '{name.Value}' must match [a-z0-9_-]+ (it names lake folders and the checkpoint)");
        var table = s.Optional("table");
        var query = s.Optional("query");
        if (table is not null && query is not null) throw ctx.Error(query.Value.Node, $"{s.Path}: give either table or query, not both");
        if (table is null && query is null) throw s.Error($"{s.Path}: give table (schema.table) or query (a SELECT)");
        if (table is { } t)
        {
            Mark("table", t);
            if (Sql.SplitName(t.Value) is null) throw ctx.Error(t.Node, $"{s.Path}.table: '{t.Value}' is not a table name like public.orders");
        }
        if (query is { } q)
        {
            Mark("query", q);
            var text = q.Value.Trim().TrimEnd(';');
            if (!text.StartsWith("select", StringComparison.OrdinalIgnoreCase) && !text.StartsWith("with", StringComparison.OrdinalIgnoreCase))
                throw ctx.Error(q.Node, $"{s.Path}.query: must be a SELECT (or WITH … SELECT) without ORDER BY or LIMIT");
        }
        if (!s.Has("primary_key")) throw s.Error($"{s.Path}.primary_key: required key is missing (the columns that identify a row, e.g. [id])");
        var pkNode = s.RequiredSequence("primary_key");
        var pk = s.RequiredList("primary_key");
        spots["primary_key"] = new(ctx.File, pkNode.Start.Line, pkNode.Start.Column);
        if (pk.Distinct(StringComparer.Ordinal).Count() != pk.Count) throw ctx.Error(pkNode, $"{s.Path}.primary_key: a column is named twice");
        var cursor = s.Optional("cursor");
        if (cursor is { } c)
        {
            Mark("cursor", c);
            if (pk.Contains(c.Value, StringComparer.Ordinal)) throw ctx.Error(c.Node, $"{s.Path}.cursor: '{c.Value}' is also in primary_key; the cursor is the column that changes when a row changes (e.g. updated_at)");
        }
        var eventTime = s.Optional("event_time");
        if (eventTime is { } e) Mark("event_time", e);
        var lookback = TimeSpan.Zero;
        if (s.Optional("lookback") is { } lb)
        {
            if (cursor is null) throw ctx.Error(lb.Node, $"{s.Path}.lookback: only a stream with a cursor has a look-back (without one it is read in full every run)");
            lookback = ctx.Duration(lb);
        }
        IReadOnlyList<string>? columns = null;
        if (s.OptionalSequence("columns") is { } colNode)
        {
            columns = s.OptionalList("columns");
            spots["columns"] = new(ctx.File, colNode.Start.Line, colNode.Start.Column);
            if (columns!.Count == 0) throw ctx.Error(colNode, $"{s.Path}.columns: must not be empty (leave it out for every column)");
            if (columns.Distinct(StringComparer.Ordinal).Count() != columns.Count) throw ctx.Error(colNode, $"{s.Path}.columns: a column is named twice");
        }
        s.RejectUnknown();
        return new PostgresStreamSpec(name.Value, table?.Value, query?.Value.Trim().TrimEnd(';'), pk, cursor?.Value, eventTime?.Value, lookback, columns, spots);
    }

    public ISource Create(SourceSpec spec, SourceServices services) => new PostgresSource((PostgresSourceSpec)spec, services.Time);
}
