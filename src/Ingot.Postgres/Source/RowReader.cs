using System.Buffers;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using Ingot.Records;
using Npgsql;
using System.Runtime.CompilerServices;

namespace Ingot.Postgres.Source;

/// <summary>How one column's value becomes JSON: read typed in the binary protocol and written here, or as text the server made.</summary>
internal enum Codec { Bool, Int16, Int32, Int64, String, Uuid, TimestampTz, Timestamp, Date, Number, Json }

/// <summary>A column of the record: its name, how it is read, and the select-list expression that reads it.</summary>
internal sealed record RecordColumn(string Name, Codec Codec, string Expression)
{
    public JsonEncodedText Key { get; } = JsonEncodedText.Encode(Name, JavaScriptEncoder.UnsafeRelaxedJsonEscaping);

    /// <summary>
    /// The values <c>to_jsonb</c> would write (DESIGN §4.1). Measured on 1 M orders (2 cores): the server spends ~4.8 s
    /// making <c>to_json(row)</c> text and ~1.2 s sending the same rows in the binary protocol, so the common types are
    /// read typed and written here — the mapping is simple and exact for them — and the rest still comes from PostgreSQL's
    /// own JSON: numerics as their text (every digit), json/jsonb/arrays/intervals/… through <c>to_json</c>, bytea as base64.
    /// </summary>
    public static RecordColumn For(string name, string type)
    {
        var col = $"ingot_q.{Sql.Quote(name)}";
        return type switch
        {
            "boolean" => new(name, Codec.Bool, col),
            "smallint" => new(name, Codec.Int16, col),
            "integer" => new(name, Codec.Int32, col),
            "bigint" => new(name, Codec.Int64, col),
            "text" or "name" or "citext" => new(name, Codec.String, col),
            _ when type.StartsWith("character", StringComparison.Ordinal) && !type.EndsWith("[]", StringComparison.Ordinal) => new(name, Codec.String, col),
            "uuid" => new(name, Codec.Uuid, col),
            "timestamp with time zone" => new(name, Codec.TimestampTz, col),
            "timestamp without time zone" => new(name, Codec.Timestamp, col),
            "date" => new(name, Codec.Date, col),
            "real" or "double precision" => new(name, Codec.Number, $"{col}::text"),
            _ when type.StartsWith("numeric", StringComparison.Ordinal) && !type.EndsWith("[]", StringComparison.Ordinal) => new(name, Codec.Number, $"{col}::text"),
            // DESIGN §4.1 says base64 (to_json writes hex escapes), without the line breaks encode() adds.
            "bytea" => new(name, Codec.String, $"translate(encode({col}, 'base64'), E'\\n', '')"),
            _ => new(name, Codec.Json, $"to_json({col})::text"),
        };
    }
}

/// <summary>
/// Reads one row's record columns into a <see cref="RowBatch"/>: each value once, typed, no JSON written (the batch
/// writes the record's JSON only when a destination asks for it). With <paramref name="utf8"/> (the connection's client
/// encoding is UTF-8, the default) text values are copied as the bytes the server sent straight into the batch, never
/// made into a .NET string. Measured on the postgres-source bench's 1 M orders against writing each row's JSON with
/// <see cref="Utf8JsonWriter"/> and scanning it back in the Parquet destination: see docs/postgres-source.md.
/// </summary>
/// <para>
/// With <paramref name="eventColumn"/> (the index of a timestamp or date record column) the row's event time is taken from
/// that column's value as it is read (<see cref="EventTime"/>), instead of the database selecting the same value again.
/// </para>
internal sealed class RowReader(IReadOnlyList<RecordColumn> columns, bool utf8 = false, int eventColumn = -1)
{
    // An array, not the list: one interface call less per value.
    private readonly Codec[] _codecs = [.. columns.Select(c => c.Codec)];

    /// <summary>The event time of the row <see cref="Read"/> read last, from its event column (null when the value is NULL).</summary>
    public DateTimeOffset? EventTime { get; private set; }

    /// <summary>The batch columns for <paramref name="columns"/>: one array per stream, shared by its pages.</summary>
    public static BatchColumn[] BatchColumns(IReadOnlyList<RecordColumn> columns) =>
        [.. columns.Select(c => new BatchColumn(c.Name, c.Codec switch
        {
            Codec.Bool => BatchKind.Boolean,
            Codec.Int16 or Codec.Int32 or Codec.Int64 => BatchKind.Integer,
            Codec.Number => BatchKind.Number,
            Codec.Json => BatchKind.Json,
            _ => BatchKind.Text,
        }))];

    /// <summary>Reads the row whose record columns start at <paramref name="first"/> into the batch's row being set.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Read(NpgsqlDataReader reader, int first, RowBatch batch)
    {
        var codecs = _codecs;
        for (var c = 0; c < codecs.Length; c++)
        {
            var i = first + c;
            if (reader.IsDBNull(i))
            {
                batch.Null(c);
                if (c == eventColumn) EventTime = null;
                continue;
            }
            switch (codecs[c])
            {
                case Codec.Bool: batch.Boolean(c, reader.GetBoolean(i)); break;
                case Codec.Int16: batch.Integer(c, reader.GetInt16(i)); break;
                case Codec.Int32: batch.Integer(c, reader.GetInt32(i)); break;
                case Codec.Int64: batch.Integer(c, reader.GetInt64(i)); break;
                case Codec.Uuid: Guid(batch, c, reader.GetGuid(i)); break;
                case Codec.TimestampTz or Codec.Timestamp:
                    var t = reader.GetFieldValue<DateTime>(i);
                    // A timestamp without zone is the UTC instant of its wall time, as the selected event time is.
                    if (c == eventColumn) EventTime = new DateTimeOffset(t.Ticks, TimeSpan.Zero);
                    Timestamp(batch, c, t, codecs[c] == Codec.TimestampTz ? "+00:00" : "");
                    break;
                case Codec.Date:
                    var d = reader.GetFieldValue<DateOnly>(i);
                    // Midnight UTC; the infinities as a timestamp's (Npgsql's DateTime ends).
                    if (c == eventColumn)
                        EventTime = d == DateOnly.MaxValue ? DateTimeOffset.MaxValue : d == DateOnly.MinValue ? DateTimeOffset.MinValue : new DateTimeOffset(d.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
                    Date(batch, c, d);
                    break;
                default:
                    // String, Number and Json: the server's text.
                    if (utf8) Utf8(reader, i, batch, c);
                    else batch.Text(c, System.Text.Encoding.UTF8.GetBytes(reader.GetString(i)));
                    break;
            }
        }
    }

    /// <summary>A text value's bytes as the server sent them (the client encoding, UTF-8 here), straight into the batch.</summary>
    private static void Utf8(NpgsqlDataReader reader, int i, RowBatch batch, int c)
    {
        var length = (int)reader.GetBytes(i, 0, null, 0, 0);
        var buffer = batch.TextBuffer(c, length, out var offset);
        batch.EndText(c, (int)reader.GetBytes(i, 0, buffer, offset, length));
    }

    private static void Guid(RowBatch batch, int c, Guid value)
    {
        var buffer = batch.TextBuffer(c, 36, out var offset);
        value.TryFormat(buffer.AsSpan(offset, 36), out var n, "D");
        batch.EndText(c, n);
    }

    /// <summary>As PostgreSQL writes them in JSON: <c>2024-01-15T08:30:00.1234+00:00</c> (fraction without trailing zeros), <c>infinity</c>.</summary>
    private static void Timestamp(RowBatch batch, int c, DateTime t, string offset)
    {
        // Npgsql reads PostgreSQL's infinities as DateTime's ends.
        if (t == DateTime.MaxValue) { batch.Text(c, "infinity"u8); return; }
        if (t == DateTime.MinValue) { batch.Text(c, "-infinity"u8); return; }
        var buffer = batch.TextBuffer(c, 40, out var at);
        batch.EndText(c, FormatTimestamp(buffer.AsSpan(at, 40), t, offset));
    }

    private static void Date(RowBatch batch, int c, DateOnly d)
    {
        if (d == DateOnly.MaxValue) { batch.Text(c, "infinity"u8); return; }
        if (d == DateOnly.MinValue) { batch.Text(c, "-infinity"u8); return; }
        var buffer = batch.TextBuffer(c, 10, out var at);
        d.TryFormat(buffer.AsSpan(at, 10), out var n, "yyyy-MM-dd", CultureInfo.InvariantCulture);
        batch.EndText(c, n);
    }

    /// <summary>
    /// A finite timestamp as <c>to_jsonb</c> writes it (<c>2024-01-15T08:30:00.1234</c>, the fraction without trailing
    /// zeros) followed by <paramref name="offset"/>, into <paramref name="buf"/> (at least 32 bytes); returns the length.
    /// Digit by digit: DateTime's custom-format path costs several times the rest of a row's JSON. The date comes from one
    /// <see cref="DateTime.Deconstruct(out int, out int, out int)"/> (Year, Month and Day each divide the ticks again).
    /// </summary>
    internal static int FormatTimestamp(Span<byte> buf, DateTime t, string offset)
    {
        var (year, month, day) = t;
        var time = t.Ticks % TimeSpan.TicksPerDay;
        var seconds = (int)(time / TimeSpan.TicksPerSecond);
        Digits(buf, 0, year, 4);
        buf[4] = (byte)'-';
        Digits(buf, 5, month, 2);
        buf[7] = (byte)'-';
        Digits(buf, 8, day, 2);
        buf[10] = (byte)'T';
        Digits(buf, 11, seconds / 3600, 2);
        buf[13] = (byte)':';
        Digits(buf, 14, seconds / 60 % 60, 2);
        buf[16] = (byte)':';
        Digits(buf, 17, seconds % 60, 2);
        var n = 19;
        var micros = (int)(time % TimeSpan.TicksPerSecond / 10);
        if (micros != 0)
        {
            buf[n++] = (byte)'.';
            Digits(buf, n, micros, 6);
            n += 6;
            while (buf[n - 1] == '0') n--;
        }
        foreach (var c in offset) buf[n++] = (byte)c;
        return n;
    }

    /// <summary><paramref name="value"/> as exactly <paramref name="count"/> decimal digits (zero-padded) at <paramref name="at"/>.</summary>
    private static void Digits(Span<byte> buf, int at, int value, int count)
    {
        for (var i = at + count - 1; i >= at; i--)
        {
            buf[i] = (byte)('0' + value % 10);
            value /= 10;
        }
    }
}
