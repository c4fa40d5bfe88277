using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ingot.Records;
using Record = Ingot.Records.Record;

namespace Ingot.Tests.Core.Records;

/// <summary>
/// A typed batch's three forms against the JSON path's: each row's JSON byte for byte what <see cref="Utf8JsonWriter"/>
/// writes for the same values (relaxed escaping, as the sources wrote it), its length known before it is written, and
/// each row's hash equal to <see cref="RecordHasher.Md5Hex"/> of the parsed record.
/// </summary>
public sealed class RowBatchTests
{
    private static readonly JsonWriterOptions Relaxed = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static readonly string[] Strings =
    [
        "", "plain", "with \"quotes\"", "back\\slash", "tab\there", "new\nline", "\u0001\u001f control", "del \u007f",
        "ünïcødé ✓", "emoji 😀", "line sep \u2028 para \u2029", "<html> & 'amp'", "+00:00", "2024-01-15T08:30:00.1234+00:00",
    ];

    private static readonly string[] Numbers = ["0", "-1", "12.50", "9223372036854775808", "1e-7", "NaN", "Infinity", "-Infinity", "-0.000"];

    private static readonly string[] JsonValues = ["{\"b\": 1, \"a\": [true, null, \"x\"]}", "[1, 2.5, \"é\"]", "\"1 day\"", "42", "null", "{}", "[]"];

    private static readonly BatchColumn[] Columns =
    [
        new("id", BatchKind.Integer), new("ok", BatchKind.Boolean), new("name", BatchKind.Text), new("amount", BatchKind.Number),
        new("doc", BatchKind.Json), new("Zeta \"q\"", BatchKind.Text), new("é", BatchKind.Integer),
    ];

    /// <summary>Fills a batch with <paramref name="rows"/> rows of every kind, nulls among them; returns the JSON the writer makes of each.</summary>
    private static List<string> Fill(RowBatch batch, int rows, bool withJson = true)
    {
        var expected = new List<string>();
        var random = new Random(rows);
        for (var r = 0; r < rows; r++)
        {
            var buffer = new ArrayBufferWriter<byte>();
            using (var w = new Utf8JsonWriter(buffer, Relaxed))
            {
                w.WriteStartObject();
                for (var c = 0; c < Columns.Length; c++)
                {
                    var column = Columns[c];
                    w.WritePropertyName(column.Name);
                    if (random.Next(6) == 0 || (!withJson && column.Kind == BatchKind.Json))
                    {
                        batch.Null(c);
                        w.WriteNullValue();
                        continue;
                    }
                    switch (column.Kind)
                    {
                        case BatchKind.Integer:
                            var value = random.Next(4) switch { 0 => long.MinValue, 1 => long.MaxValue, 2 => 0, _ => random.NextInt64(-100_000, 100_000) };
                            batch.Integer(c, value);
                            w.WriteNumberValue(value);
                            break;
                        case BatchKind.Boolean:
                            var b = random.Next(2) == 0;
                            batch.Boolean(c, b);
                            w.WriteBooleanValue(b);
                            break;
                        case BatchKind.Text:
                            var s = Strings[random.Next(Strings.Length)];
                            batch.Text(c, Encoding.UTF8.GetBytes(s));
                            w.WriteStringValue(s);
                            break;
                        case BatchKind.Number:
                            var n = Numbers[random.Next(Numbers.Length)];
                            batch.Text(c, Encoding.UTF8.GetBytes(n));
                            if (char.IsAsciiDigit(n[0]) || n[0] == '-' && char.IsAsciiDigit(n[1])) w.WriteRawValue(n, skipInputValidation: true);
                            else w.WriteStringValue(n);
                            break;
                        default:
                            var j = JsonValues[random.Next(JsonValues.Length)];
                            batch.Text(c, Encoding.UTF8.GetBytes(j));
                            w.WriteRawValue(j, skipInputValidation: true);
                            break;
                    }
                }
                w.WriteEndObject();
            }
            batch.EndRow();
            expected.Add(Encoding.UTF8.GetString(buffer.WrittenSpan));
        }
        return expected;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(100)]
    [InlineData(1000)]
    public void Each_rows_json_is_what_the_json_writer_makes_and_its_length_is_known_before(int rows)
    {
        // A start of 16 rows and 256 text bytes: the arrays grow along the way.
        var batch = new RowBatch(Columns, 16);
        var expected = Fill(batch, rows);

        Assert.Equal(rows, batch.Count);
        Assert.Equal(expected.Sum(e => Encoding.UTF8.GetByteCount(e) + 1L), batch.NdjsonLength);
        for (var r = 0; r < rows; r++)
        {
            Assert.Equal(Encoding.UTF8.GetByteCount(expected[r]), batch.JsonLength(r));
            Assert.Equal(expected[r], Encoding.UTF8.GetString(batch.Json(r).Span));
        }
        Assert.Equal(string.Concat(expected.Select(e => e + "\n")), Encoding.UTF8.GetString(batch.Ndjson.Span));
    }

    [Theory]
    [InlineData(5, true)]
    [InlineData(8, false)]
    [InlineData(203, false)]
    [InlineData(203, true)]
    public void Each_rows_hash_is_the_record_hash_of_its_parsed_json(int rows, bool withJson)
    {
        var batch = new RowBatch(Columns, rows);
        Fill(batch, rows, withJson);
        var hashes = new byte[rows * RowBatch.HashLength];
        batch.WriteHashes(hashes);
        for (var r = 0; r < rows; r++)
        {
            var record = Record.FromBatch(batch, r, null);
            Assert.True(record.TryGetRow(out _, out _));
            var expected = RecordHasher.Md5Hex(JsonNode.Parse(batch.Json(r).Span));
            Assert.Equal(expected, Encoding.ASCII.GetString(hashes, r * RowBatch.HashLength, RowBatch.HashLength));
            Assert.Equal(RecordHasher.Canonical(JsonNode.Parse(batch.Json(r).Span)), Encoding.UTF8.GetString(batch.Canonical(r)));
            Assert.Equal(expected, record.Hash());
        }
    }

    [Fact]
    public void A_dropped_row_leaves_no_trace()
    {
        var columns = new BatchColumn[] { new("k", BatchKind.Integer), new("t", BatchKind.Text) };
        var batch = new RowBatch(columns, 4);
        batch.Integer(0, 1);
        batch.Text(1, "kept"u8);
        batch.EndRow();
        batch.Integer(0, 2);
        batch.Text(1, "a longer value that is dropped"u8);
        batch.DropRow();
        batch.Integer(0, 3);
        batch.Null(1);
        batch.EndRow();
        batch.Integer(0, 4);
        batch.Text(1, "x"u8);
        batch.EndRow();

        Assert.Equal("{\"k\":1,\"t\":\"kept\"}\n{\"k\":3,\"t\":null}\n{\"k\":4,\"t\":\"x\"}\n", Encoding.UTF8.GetString(batch.Ndjson.Span));
        Assert.True(batch.IsNull(1, 1));
        Assert.Equal("x", Encoding.UTF8.GetString(batch.Bytes(1, 2)));
    }

    [Fact]
    public void Text_spreads_over_segments_and_a_value_longer_than_one_keeps_its_own()
    {
        var batch = new RowBatch([new("t", BatchKind.Text), new("n", BatchKind.Integer)], 16);
        var values = new List<string>();
        for (var i = 0; i < 400; i++)
        {
            // Mostly values that fill a 64 KB segment unevenly, some longer than a segment, some empty.
            var value = (i % 50) switch { 7 => new string('x', 200_000 + i), 8 => "", _ => new string((char)('a' + i % 26), 1 + i * 37 % 3000) + "é" };
            values.Add(value);
            batch.Text(0, Encoding.UTF8.GetBytes(value));
            batch.Integer(1, i);
            batch.EndRow();
        }
        for (var i = 0; i < values.Count; i++) Assert.Equal(values[i], Encoding.UTF8.GetString(batch.Bytes(0, i)));
        Assert.Equal(values[^1], JsonNode.Parse(batch.Json(values.Count - 1).Span)!["t"]!.GetValue<string>());
    }

    [Fact]
    public void A_row_missing_a_value_is_refused()
    {
        var batch = new RowBatch([new("a", BatchKind.Integer), new("b", BatchKind.Integer)], 4);
        batch.Integer(0, 1);
        var e = Assert.Throws<InvalidOperationException>(batch.EndRow);
        Assert.Contains("row 1 set 1 values for 2 columns", e.Message);
    }

    [Fact]
    public void A_record_read_as_an_object_stops_being_the_row()
    {
        var batch = new RowBatch([new("a", BatchKind.Integer)], 4);
        batch.Integer(0, 7);
        batch.EndRow();
        var record = Record.FromBatch(batch, 0, null);
        Assert.Equal(7, record.JsonLength);

        record.Fields["a"] = 8;

        Assert.False(record.TryGetRow(out _, out _));
        Assert.False(record.TryGetUtf8(out _));
        Assert.Equal(8, (int)record.Fields["a"]!);
    }
}
