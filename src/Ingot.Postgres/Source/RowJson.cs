using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
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
/// Writes one row as a compact JSON object in column order, as UTF-8, into a page's buffer: from the fields of a binary
/// <c>COPY</c> (<see cref="BinaryCopyRows"/>; the client encoding is UTF-8, the default) or, under another client
/// encoding, through <see cref="NpgsqlDataReader"/> with text as .NET strings. Measured on the postgres-source bench's
/// 1 M orders (2 cores, perf): reading rows and writing their JSON through the data reader was ~20% of ingot's CPU
/// (per-column calls, much of it generic code left at tier 0 for the first seconds of a run); through the copy it is
/// ~13%, and the run takes ~0.6 CPU-s less (5.1 → 4.5 s of user time, same machine, same minute).
/// </summary>
internal sealed class RowJson(IReadOnlyList<RecordColumn> columns)
{
    private static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true };
    private static readonly long PostgresEpochTicks = new DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc).Ticks;
    private static readonly int PostgresEpochDay = new DateOnly(2000, 1, 1).DayNumber;
    private Utf8JsonWriter? _writer;

    /// <summary>Writes the row of a binary copy (its record columns first); returns the bytes written.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int Write(BinaryCopyRows row, IBufferWriter<byte> body)
    {
        var w = _writer ??= new Utf8JsonWriter(body, Options);
        w.Reset(body);
        w.WriteStartObject();
        for (var c = 0; c < columns.Count; c++)
        {
            var col = columns[c];
            w.WritePropertyName(col.Key);
            if (row.IsNull(c))
            {
                w.WriteNullValue();
                continue;
            }
            var v = row.Field(c);
            switch (col.Codec)
            {
                case Codec.Bool: w.WriteBooleanValue(v[0] != 0); break;
                case Codec.Int16: w.WriteNumberValue(BinaryPrimitives.ReadInt16BigEndian(v)); break;
                case Codec.Int32: w.WriteNumberValue(BinaryPrimitives.ReadInt32BigEndian(v)); break;
                case Codec.Int64: w.WriteNumberValue(BinaryPrimitives.ReadInt64BigEndian(v)); break;
                case Codec.String: w.WriteStringValue(v); break;
                case Codec.Uuid: WriteUuid(w, v); break;
                case Codec.TimestampTz: WriteTimestamp(w, Timestamp(v, col.Name), "+00:00"); break;
                case Codec.Timestamp: WriteTimestamp(w, Timestamp(v, col.Name), ""); break;
                case Codec.Date: WriteDate(w, Date(v, col.Name)); break;
                case Codec.Number: WriteNumber(w, v); break;
                default: w.WriteRawValue(v, skipInputValidation: true); break;
            }
        }
        w.WriteEndObject();
        w.Flush();
        return (int)w.BytesCommitted;
    }

    /// <summary>A binary timestamp (µs since 2000-01-01; the int64 ends for ±infinity) as Npgsql reads it: infinities as DateTime's ends.</summary>
    public static DateTime Timestamp(ReadOnlySpan<byte> value, string column)
    {
        var micros = BinaryPrimitives.ReadInt64BigEndian(value);
        if (micros == long.MaxValue) return DateTime.MaxValue;
        if (micros == long.MinValue) return DateTime.MinValue;
        // Checked in µs: PostgreSQL keeps years up to 294276, whose ticks would overflow a long.
        if (micros < -PostgresEpochTicks / 10 || micros > (DateTime.MaxValue.Ticks - PostgresEpochTicks) / 10)
            throw new InvalidDataException($"column {column}: a timestamp outside the years 1–9999 ({micros} µs from 2000-01-01), which the bronze record cannot hold");
        return new DateTime(PostgresEpochTicks + micros * 10, DateTimeKind.Utc);
    }

    private static DateOnly Date(ReadOnlySpan<byte> value, string column)
    {
        var days = BinaryPrimitives.ReadInt32BigEndian(value);
        if (days == int.MaxValue) return DateOnly.MaxValue;
        if (days == int.MinValue) return DateOnly.MinValue;
        var number = (long)PostgresEpochDay + days;
        if (number < DateOnly.MinValue.DayNumber || number > DateOnly.MaxValue.DayNumber)
            throw new InvalidDataException($"column {column}: a date outside the years 1–9999 ({days} days from 2000-01-01), which the bronze record cannot hold");
        return DateOnly.FromDayNumber((int)number);
    }

    /// <summary>A binary uuid (16 bytes) as PostgreSQL writes it: lowercase hex, 8-4-4-4-12.</summary>
    private static void WriteUuid(Utf8JsonWriter w, ReadOnlySpan<byte> value)
    {
        Span<byte> text = stackalloc byte[36];
        var n = 0;
        for (var i = 0; i < 16; i++)
        {
            if (i is 4 or 6 or 8 or 10) text[n++] = (byte)'-';
            text[n++] = (byte)"0123456789abcdef"[value[i] >> 4];
            text[n++] = (byte)"0123456789abcdef"[value[i] & 15];
        }
        w.WriteStringValue(text);
    }

    /// <summary>Writes the row whose record columns start at <paramref name="first"/>; returns the bytes written.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int Write(NpgsqlDataReader reader, int first, IBufferWriter<byte> body)
    {
        var w = _writer ??= new Utf8JsonWriter(body, Options);
        w.Reset(body);
        w.WriteStartObject();
        for (var c = 0; c < columns.Count; c++)
        {
            var col = columns[c];
            var i = first + c;
            w.WritePropertyName(col.Key);
            if (reader.IsDBNull(i))
            {
                w.WriteNullValue();
                continue;
            }
            switch (col.Codec)
            {
                case Codec.Bool: w.WriteBooleanValue(reader.GetBoolean(i)); break;
                case Codec.Int16: w.WriteNumberValue(reader.GetInt16(i)); break;
                case Codec.Int32: w.WriteNumberValue(reader.GetInt32(i)); break;
                case Codec.Int64: w.WriteNumberValue(reader.GetInt64(i)); break;
                case Codec.String: w.WriteStringValue(reader.GetString(i)); break;
                case Codec.Uuid: w.WriteStringValue(reader.GetGuid(i).ToString("D")); break;
                case Codec.TimestampTz: WriteTimestamp(w, reader.GetFieldValue<DateTime>(i), "+00:00"); break;
                case Codec.Timestamp: WriteTimestamp(w, reader.GetFieldValue<DateTime>(i), ""); break;
                case Codec.Date: WriteDate(w, reader.GetFieldValue<DateOnly>(i)); break;
                case Codec.Number: WriteNumber(w, System.Text.Encoding.UTF8.GetBytes(reader.GetString(i))); break;
                default: w.WriteRawValue(reader.GetString(i), skipInputValidation: true); break;
            }
        }
        w.WriteEndObject();
        w.Flush();
        return (int)w.BytesCommitted;
    }

    /// <summary>As PostgreSQL writes them in JSON: <c>2024-01-15T08:30:00.1234+00:00</c> (fraction without trailing zeros), <c>infinity</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WriteTimestamp(Utf8JsonWriter w, DateTime t, string offset)
    {
        // Npgsql reads PostgreSQL's infinities as DateTime's ends.
        if (t == DateTime.MaxValue) { w.WriteStringValue("infinity"); return; }
        if (t == DateTime.MinValue) { w.WriteStringValue("-infinity"); return; }
        // Digit by digit: DateTime's custom-format path costs several times the rest of a row's JSON.
        Span<byte> buf = stackalloc byte[40];
        Digits(buf, 0, t.Year, 4);
        buf[4] = (byte)'-';
        Digits(buf, 5, t.Month, 2);
        buf[7] = (byte)'-';
        Digits(buf, 8, t.Day, 2);
        buf[10] = (byte)'T';
        Digits(buf, 11, t.Hour, 2);
        buf[13] = (byte)':';
        Digits(buf, 14, t.Minute, 2);
        buf[16] = (byte)':';
        Digits(buf, 17, t.Second, 2);
        var n = 19;
        var micros = (int)(t.Ticks % TimeSpan.TicksPerSecond / 10);
        if (micros != 0)
        {
            buf[n++] = (byte)'.';
            Digits(buf, n, micros, 6);
            n += 6;
            while (buf[n - 1] == '0') n--;
        }
        foreach (var c in offset) buf[n++] = (byte)c;
        w.WriteStringValue(buf[..n]);
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

    private static void WriteDate(Utf8JsonWriter w, DateOnly d)
    {
        if (d == DateOnly.MaxValue) { w.WriteStringValue("infinity"); return; }
        if (d == DateOnly.MinValue) { w.WriteStringValue("-infinity"); return; }
        Span<char> buf = stackalloc char[10];
        d.TryFormat(buf, out var n, "yyyy-MM-dd", CultureInfo.InvariantCulture);
        w.WriteStringValue(buf[..n]);
    }

    /// <summary>A numeric's or float's text as the JSON number it is (every digit kept); NaN and infinities as strings, as to_json does.</summary>
    private static void WriteNumber(Utf8JsonWriter w, ReadOnlySpan<byte> text)
    {
        var c = text[0];
        if (char.IsAsciiDigit((char)c) || (c == '-' && text.Length > 1 && char.IsAsciiDigit((char)text[1]))) w.WriteRawValue(text, skipInputValidation: true);
        else w.WriteStringValue(text);
    }
}
