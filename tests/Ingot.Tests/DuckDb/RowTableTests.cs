using System.Text;
using Ingot.DuckDb.Parquet;
using Record = Ingot.Records.Record;

namespace Ingot.Tests.DuckDb;

/// <summary>
/// The row table's plain scan (flat records of plain values, no <c>Utf8JsonReader</c>) against the reader's path on the
/// same rows: the same columns, types, cells and hashes for every row it takes, the same error for every row it leaves
/// to the reader.
/// </summary>
public sealed class RowTableTests
{
    private static Record[] Records(IEnumerable<string> lines) => lines.Select(l => Record.FromUtf8(Encoding.UTF8.GetBytes(l), null)).ToArray();

    /// <summary>Plain rows and every way a row leaves the plain shape, in varying field order and with gaps.</summary>
    private static IEnumerable<string> Mixed(int count)
    {
        for (var i = 0; i < count; i++)
        {
            yield return (i % 16) switch
            {
                0 => $$"""{"station":"COOP:{{310000 + i % 500}}","date":"2010-01-01T00:{{i % 60:D2}}:00","value":{{i % 97}},"ok":true}""",
                1 => $$"""{ "date" : "2010-01-02" ,	"station":"S{{i}}" , "value" : -{{i}}.5e-3 , "ok" : false , "none" : null }""",
                2 => $$"""{"value":9223372036854775807,"big":9223372036854775808,"neg":-9223372036854775808,"f":0.0,"e":1E+2,"z":-0}""",
                3 => $$"""{"station":"esc \"q\" \\ \u00e9","value":{{i}}}""",
                4 => $$"""{"station":"ünïcødé ✓","value":{{i}}}""",
                5 => $$"""{"nested":{"b":1,"a":[true,null]},"value":{{i}}}""",
                6 => $$"""{"list":[1,2.5],"tags":["a","b"],"value":{{i}}}""",
                7 => "{}",
                8 => "  {\"value\":1}\r\n ",
                9 => $$"""{"tab":"a\tb","value":{{i}}}""",
                10 => $$"""{"del":"a{{(char)0x7f}}b","value":{{i}}}""",
                11 => $$"""{"value":{{i}},"station":"late order","date":null}""",
                12 => $$"""{"n\u0061me":"escaped name","value":{{i}}}""",
                13 => $$"""{"value":123456789012345678901234567890,"x":1.7976931348623157e308}""",
                14 => $$"""{"station":"","date":"","value":0}""",
                _ => $$"""{"ok":null,"value":{{i}}.{{i % 10}}}""",
            };
        }
    }

    [Fact]
    public void The_plain_scan_reads_every_row_as_the_reader_does()
    {
        var records = Records(Mixed(20_000));
        using var plain = RowTable.Read("c", records, CancellationToken.None, plainScan: true);
        using var reader = RowTable.Read("c", records, CancellationToken.None, plainScan: false);
        Assert.Equal(reader.Names, plain.Names);
        Assert.Equal(reader.Types, plain.Types);
        for (var r = 0; r < records.Length; r++)
        {
            for (var c = 0; c < reader.ColumnCount; c++) Assert.Equal(reader.CellAt(r, c), plain.CellAt(r, c));
        }
        Assert.Equal(reader.Hashes.AsSpan(0, records.Length * RowTable.HashLength).ToArray(), plain.Hashes.AsSpan(0, records.Length * RowTable.HashLength).ToArray());
        // The hash is the canonical JSON's MD5, whichever path read the row.
        Assert.Equal(Ingot.Records.RecordHasher.Md5Hex(System.Text.Json.Nodes.JsonNode.Parse(Encoding.UTF8.GetString(records[1].TryGetUtf8(out var u) ? u.Span : default))),
            Encoding.ASCII.GetString(plain.Hashes, RowTable.HashLength, RowTable.HashLength));
    }

    [Theory]
    [InlineData("""{"a":01}""")]
    [InlineData("""{"a":tru}""")]
    [InlineData("""{"a":truex}""")]
    [InlineData("""{"a":1,}""")]
    [InlineData("""{"a":1}x""")]
    [InlineData("""{"a":1}{"b":2}""")]
    [InlineData("""{"a":1,"a":2}""")]
    [InlineData("""{"a" 1}""")]
    [InlineData("""{"a":-}""")]
    [InlineData("""{"a":1.}""")]
    [InlineData("""{"a":.5}""")]
    [InlineData("""{"a":1e}""")]
    [InlineData("""{"a":1 2}""")]
    [InlineData("""{"a":"x""")]
    [InlineData("""{"a":"x\"}""")]
    [InlineData("""{"a":""")]
    [InlineData("""{"a":1""")]
    [InlineData("""{a:1}""")]
    [InlineData("""[1]""")]
    [InlineData("""{"a":1,,"b":2}""")]
    [InlineData("""{"a":'x'}""")]
    public void A_row_that_is_not_valid_fails_the_same_way_on_both_paths(string bad)
    {
        var (plain, reader) = FailBoth(Records(["""{"a":1,"b":"ok"}""", bad]));
        Assert.Equal(reader, plain);
        Assert.StartsWith("chunk 'c': record 2 ", plain);
    }

    [Fact]
    public void A_raw_control_character_in_a_string_fails_on_both_paths()
    {
        var (plain, reader) = FailBoth(Records(["{\"a\":\"x\u0001y\"}"]));
        Assert.Equal(reader, plain);
        Assert.StartsWith("chunk 'c': record 1 is not valid JSON", plain);
    }

    /// <summary>The error each path gives for the same records (each must fail).</summary>
    private static (string Plain, string Reader) FailBoth(Record[] records) =>
        (Assert.Throws<InvalidDataException>(() => RowTable.Read("c", records, CancellationToken.None, plainScan: true).Dispose()).Message,
         Assert.Throws<InvalidDataException>(() => RowTable.Read("c", records, CancellationToken.None, plainScan: false).Dispose()).Message);
}
