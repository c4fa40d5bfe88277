using Npgsql;

namespace Ingot.Postgres.Source;

/// <summary>What kind of cursor a stream has; decides how the fence is expressed and how cursor values are written as text.</summary>
internal enum CursorKind { TimestampTz, Timestamp, Date }

/// <summary>
/// A stream checked against the database (columns exist, the cursor is a date or timestamp), and the SQL fragments every
/// statement of the stream is built from. The relation is <c>(&lt;table or query&gt;) ingot_q</c> (a name no column is likely to have: <c>to_json(ingot_q)</c> must mean the row); the keyset order is
/// <c>(cursor, primary key…)</c>, or the primary key alone for a stream without a cursor.
/// </summary>
internal sealed class StreamShape
{
    private StreamShape(PostgresStreamSpec spec, IReadOnlyDictionary<string, string> types)
    {
        Spec = spec;
        Types = types;
        From = spec.Table is { } t ? $"{Sql.QuoteName(t)} ingot_q" : $"({spec.Query}) ingot_q";
        Relation = spec.Table ?? "query";
        KeyColumns = spec.Cursor is { } c ? [c, .. spec.PrimaryKey] : [.. spec.PrimaryKey];
        OrderBy = string.Join(", ", KeyColumns.Select(k => "ingot_q." + Sql.Quote(k)));
        if (spec.Cursor is { } cursor)
        {
            CursorKind = types[cursor] switch
            {
                "timestamp with time zone" => Source.CursorKind.TimestampTz,
                "timestamp without time zone" => Source.CursorKind.Timestamp,
                "date" => Source.CursorKind.Date,
                _ => throw new InvalidOperationException("checked by Resolve"),
            };
        }
        Columns = (spec.Columns ?? [.. types.Keys]).Select(col => RecordColumn.For(col, types[col])).ToList();
        EventTs = spec.EventTime is { } ev
            ? types[ev] switch
            {
                "timestamp with time zone" => $"ingot_q.{Sql.Quote(ev)}",
                "timestamp without time zone" => $"ingot_q.{Sql.Quote(ev)} AT TIME ZONE 'UTC'",
                _ => $"ingot_q.{Sql.Quote(ev)}::timestamp AT TIME ZONE 'UTC'",
            }
            : "NULL::timestamptz";
        EventColumn = spec.EventTime is { } e ? Columns.ToList().FindIndex(col => col.Name == e && col.Codec is Codec.TimestampTz or Codec.Timestamp or Codec.Date) : -1;
    }

    /// <summary>
    /// The record column the event time is read from (its typed value, the same instant <see cref="EventTs"/> selects), or
    /// -1 when the event time is not one of the record's columns and is selected on its own.
    /// </summary>
    public int EventColumn { get; }

    public PostgresStreamSpec Spec { get; }

    /// <summary>Column name → PostgreSQL type name (as <c>format_type</c> writes it, so it can be cast to).</summary>
    public IReadOnlyDictionary<string, string> Types { get; }

    public string From { get; }

    /// <summary>The table name, or <c>query</c>, for messages and the raw archive's request line.</summary>
    public string Relation { get; }

    public IReadOnlyList<string> KeyColumns { get; }

    public string OrderBy { get; }

    public CursorKind? CursorKind { get; }

    /// <summary>The record's columns (<c>columns:</c>, or all of the table or query), in order.</summary>
    public IReadOnlyList<RecordColumn> Columns { get; }

    /// <summary>The event time as timestamptz (a timestamp without zone read as UTC).</summary>
    public string EventTs { get; }

    public bool HasCursor => Spec.Cursor is not null;

    /// <summary>The keyset columns written as text: the cursor canonically (sortable, full precision), the key columns as PostgreSQL writes them.</summary>
    public IEnumerable<string> KeyTexts()
    {
        foreach (var k in KeyColumns)
        {
            yield return k == Spec.Cursor ? CursorText($"ingot_q.{Sql.Quote(k)}") : $"ingot_q.{Sql.Quote(k)}::text";
        }
    }

    /// <summary>A cursor expression as canonical text: UTC with microseconds and <c>Z</c>, a timestamp without zone without one, a date as a date.</summary>
    public string CursorText(string expression) => CursorKind switch
    {
        Source.CursorKind.TimestampTz => $"to_char({expression} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
        Source.CursorKind.Timestamp => $"to_char({expression}, 'YYYY-MM-DD\"T\"HH24:MI:SS.US')",
        _ => $"to_char({expression}, 'YYYY-MM-DD')",
    };

    /// <summary>The parameter placeholder of key column <paramref name="i"/>, cast to its type.</summary>
    public string Param(string name, int i) => $"@{name}{i}::{Types[KeyColumns[i]]}";

    public static string Literal(string text) => "'" + text.Replace("'", "''", StringComparison.Ordinal) + "'";

    /// <summary>Reads the stream's columns from the database (no rows) and checks the configuration against them.</summary>
    public static async Task<StreamShape> ResolveAsync(NpgsqlConnection conn, PostgresStreamSpec spec, CancellationToken cancellationToken)
    {
        var from = spec.Table is { } t ? Sql.QuoteName(t) : $"({spec.Query}) ingot_q";
        var types = new Dictionary<string, string>(StringComparer.Ordinal);
        await using (var cmd = new NpgsqlCommand($"SELECT * FROM {from} LIMIT 0", conn))
        {
            try
            {
                await using var reader = await cmd.ExecuteReaderAsync(System.Data.CommandBehavior.SchemaOnly, cancellationToken).ConfigureAwait(false);
                var columns = Enumerable.Range(0, reader.FieldCount).Select(i => (Name: reader.GetName(i), Oid: reader.GetDataTypeOID(i))).ToList();
                await reader.CloseAsync().ConfigureAwait(false);
                var names = await TypeNamesAsync(conn, columns.Select(c => c.Oid).Distinct().ToArray(), cancellationToken).ConfigureAwait(false);
                foreach (var (name, oid) in columns) types[name] = names[oid];
            }
            catch (PostgresException e) when (e.SqlState is "42P01" or "42601" or "42703" or "42883" or "3F000" or "42501" or "42P10" or "42803")
            {
                var where = spec.Table is null ? "query" : "table";
                throw spec.Spot(where).Error($"stream {spec.Name}: {where} {(spec.Table ?? "")}: {e.MessageText}".Replace(":  ", ": ", StringComparison.Ordinal));
            }
        }
        string Known() => string.Join(", ", types.Keys);
        void Check(string column, string key, string what)
        {
            if (!types.ContainsKey(column))
                throw spec.Spot(key).Error($"stream {spec.Name}: {what} column '{column}' is not a column of {spec.Table ?? "the query"} (columns: {Known()})");
        }
        foreach (var k in spec.PrimaryKey) Check(k, "primary_key", "primary_key");
        if (spec.Cursor is { } c)
        {
            Check(c, "cursor", "cursor");
            if (types[c] is not ("timestamp with time zone" or "timestamp without time zone" or "date"))
                throw spec.Spot("cursor").Error($"stream {spec.Name}: cursor column '{c}' is {types[c]}; the source bounds each run by the start of the transactions still open, which needs a timestamp or date cursor (e.g. updated_at)");
        }
        if (spec.EventTime is { } ev)
        {
            Check(ev, "event_time", "event_time");
            if (types[ev] is not ("timestamp with time zone" or "timestamp without time zone" or "date"))
                throw spec.Spot("event_time").Error($"stream {spec.Name}: event_time column '{ev}' is {types[ev]}, not a date or timestamp");
        }
        foreach (var col in spec.Columns ?? []) Check(col, "columns", "columns:");
        return new StreamShape(spec, types);
    }

    /// <summary>
    /// The type names of the stream's columns in one round trip, not one per column (a table of 8 columns was 8 round
    /// trips: nothing on loopback, ~0.4 s of planning against a database 50 ms away).
    /// </summary>
    private static async Task<Dictionary<uint, string>> TypeNamesAsync(NpgsqlConnection conn, uint[] oids, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand("SELECT t.oid, format_type(t.oid, NULL) FROM unnest(@oids) AS t(oid)", conn);
        cmd.Parameters.AddWithValue("oids", NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Oid, oids);
        var names = new Dictionary<uint, string>();
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false)) names[reader.GetFieldValue<uint>(0)] = reader.GetString(1);
        return names;
    }
}
