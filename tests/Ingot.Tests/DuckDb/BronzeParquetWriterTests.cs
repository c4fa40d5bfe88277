using System.Globalization;
using System.Text;
using Ingot.Destinations;
using Ingot.DuckDb;
using Ingot.DuckDb.Parquet;
using Ingot.Records;
using Record = Ingot.Records.Record;

namespace Ingot.Tests.DuckDb;

/// <summary>
/// The Parquet destination's writer (ParquetSharp) against DuckDB's <c>COPY</c> of the same staged rows (the path it
/// replaced, still the Iceberg writer's): the same table for a reader — column types, values, nulls, lists, hashes,
/// metadata — across every value kind a bronze record carries and across row groups.
/// </summary>
public sealed class BronzeParquetWriterTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("ingot-bronze-writer-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static readonly TestRunContext Run = new(Guid.Parse("6f1d3c2b-9a8e-4d7c-b6a5-0e1f2a3b4c5d"), "p", "rest", new DateTimeOffset(2024, 5, 6, 7, 8, 9, 123, TimeSpan.Zero), LoadType.Incremental);

    /// <summary>Every kind of value, and rows that lack fields or hold nulls, in varying field order.</summary>
    private static Record[] Records(int count)
    {
        var records = new Record[count];
        for (var i = 0; i < count; i++)
        {
            var json = (i % 7) switch
            {
                0 => $$$"""{"id":{{{i}}},"name":"plain","price":{{{i}}}.25,"ok":true,"tags":["a","b"],"scores":[1.5,2],"obj":{"b":1,"a":[true,null]},"big":9223372036854775807}""",
                1 => $$$"""{"name":"esc \"q\" \\ \n tab\t","id":{{{i}}},"price":-0.0,"ok":false,"tags":[],"scores":[],"obj":null}""",
                2 => $$$"""{"id":{{{i}}},"name":"ünïcødé ✓ 😀","price":1e300,"tags":[null,"x"],"scores":[null,3e-5],"mixed":"s"}""",
                3 => $$$"""{"id":{{{i}}},"name":null,"price":null,"ok":null,"tags":null,"scores":null,"mixed":12}""",
                4 => $$$"""{"id":{{{i}}}}""",
                5 => $$$"""{"obj":{"z":"\u00e9"},"id":{{{i}}},"name":"","price":0,"mixed":[1,"a"],"tags":["\u0041\\"]}""",
                _ => $$$"""{"id":{{{i}}},"name":"n{{{i % 13}}}","price":{{{i % 100}}},"ok":true,"scores":[0.1],"mixed":{"k":[]}}""",
            };
            DateTimeOffset? eventTs = i % 5 == 0 ? null : new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.FromHours(2)).AddSeconds(i * 37.5);
            records[i] = Record.FromUtf8(Encoding.UTF8.GetBytes(json), eventTs);
        }
        return records;
    }

    [Theory]
    [InlineData(50)]
    [InlineData(BronzeParquetWriter.RowGroupRows + 1_000)]
    public void Write_SameRowsAsDuckDbsCopy_SameTableForAReader(int count)
    {
        // Given a chunk's rows, typed as the destination types them
        var records = Records(count);
        var unit = new ChunkData("k-1", "orders", Run.IngestedAt, []).Unit(Run);
        using var rows = RowTable.Read(unit.Key, records, TestContext.Current.CancellationToken);
        var (types, _) = StreamSchema.Empty.Reconcile(unit.Stream, unit.Key, Run.RunId, Run.IngestedAt, rows.Names, rows.Types);
        var order = Enumerable.Range(0, count).ToList();

        // When ParquetSharp writes them, and DuckDB's COPY writes the same staged rows
        var mine = Path.Combine(_root, "mine.parquet");
        BronzeParquetWriter.Write(mine, "zstd", Run.Run, unit, records, rows, types, order, TestContext.Current.CancellationToken);
        var theirs = Path.Combine(_root, "duckdb.parquet");
        using (var database = DuckDbDatabase.Open())
        using (var staged = BronzeStaging.Stage(database, Run.Run, unit, records, rows, types, [order], TestContext.Current.CancellationToken))
        {
            staged.Connection.Execute($"COPY ({staged.SelectFields()}) TO $1 (FORMAT parquet, COMPRESSION zstd)", theirs);
        }

        // Then a reader sees the same columns with the same types, and the same rows
        using var session = DuckDbSession.Open();
        string Describe(string file)
        {
            var sb = new StringBuilder();
            foreach (var row in session.Query("DESCRIBE SELECT * FROM read_parquet($1)", file)) sb.Append(row[0]).Append(' ').Append(row[1]).Append('\n');
            return sb.ToString();
        }
        Describe(mine).ShouldBe(Describe(theirs));
        Describe(mine).ShouldContain("price DOUBLE");
        Describe(mine).ShouldContain("tags VARCHAR[]");
        Describe(mine).ShouldContain("scores DOUBLE[]");
        Describe(mine).ShouldContain("_event_ts TIMESTAMP WITH TIME ZONE");
        Convert.ToInt64(session.Scalar("SELECT count(*) FROM read_parquet($1)", mine), CultureInfo.InvariantCulture).ShouldBe(count);
        foreach (var (a, b) in new[] { (mine, theirs), (theirs, mine) })
        {
            Convert.ToInt64(session.Scalar("SELECT count(*) FROM (SELECT * FROM read_parquet($1) EXCEPT ALL SELECT * FROM read_parquet($2))", a, b), CultureInfo.InvariantCulture)
                .ShouldBe(0, $"rows of {Path.GetFileName(a)} missing from {Path.GetFileName(b)}");
        }

        // And spot values a reader relies on: digits, escapes, empty vs null lists, the metadata
        session.Scalar("SELECT name FROM read_parquet($1) WHERE id = 1", mine).ShouldBe("esc \"q\" \\ \n tab\t");
        session.Scalar("SELECT big FROM read_parquet($1) WHERE id = 0", mine).ShouldBe(long.MaxValue);
        session.Scalar("SELECT len(tags) FROM read_parquet($1) WHERE id = 1", mine).ShouldBe(0L);
        session.Scalar("SELECT tags IS NULL FROM read_parquet($1) WHERE id = 3", mine).ShouldBe(true);
        session.Scalar("SELECT obj FROM read_parquet($1) WHERE id = 0", mine).ShouldBe("""{"b":1,"a":[true,null]}""");
        session.Scalar("SELECT count(DISTINCT _record_hash) FROM read_parquet($1)", mine).ShouldBe((long)count);
        session.Scalar("SELECT any_value(_ingestion_id || '|' || _source_system || '|' || _stream || '|' || _chunk_key) FROM read_parquet($1)", mine)
            .ShouldBe($"{Run.RunId}|rest|orders|k-1");
        session.Scalar("SELECT count(*) FROM read_parquet($1) WHERE _event_ts IS NULL", mine).ShouldBe((long)((count + 4) / 5));
        if (count > BronzeParquetWriter.RowGroupRows)
            Convert.ToInt64(session.Scalar("SELECT count(DISTINCT row_group_id) FROM parquet_metadata($1)", mine), CultureInfo.InvariantCulture).ShouldBe(2);
    }

    [Fact]
    public void Write_ValueThatDoesNotFitTheColumnType_FailsNamingRecordAndField()
    {
        // Given a stream whose column is established as BIGINT, and a chunk where a record holds a string there
        var records = new[] { Record.FromUtf8("""{"n":1}"""u8.ToArray(), null), Record.FromUtf8("""{"n":true}"""u8.ToArray(), null) };
        var unit = new ChunkData("k-2", "s", Run.IngestedAt, []).Unit(Run);
        using var rows = RowTable.Read(unit.Key, records, TestContext.Current.CancellationToken);

        // When it is written with the established type
        var e = Should.Throw<InvalidDataException>(() =>
            BronzeParquetWriter.Write(Path.Combine(_root, "bad.parquet"), "zstd", Run.Run, unit, records, rows, [ColumnType.BigInt], [0, 1], TestContext.Current.CancellationToken));

        // Then the error names the record, the field and the type
        e.Message.ShouldContain("record 2");
        e.Message.ShouldContain("'n'");
        e.Message.ShouldContain("BIGINT");
    }

    [Fact]
    public void Write_ColumnsWithOneValuePerRow_PlainNotDictionary()
    {
        // Given 5,000 rows: a key and a timestamp unique per row, a status of five values, a mostly-null note
        var records = new Record[5000];
        for (var i = 0; i < records.Length; i++)
        {
            var json = $$"""{"id":{{i * 7919L}},"ts":"2024-01-01T00:{{i / 60 % 60:00}}:{{i % 60:00}}.{{i:000000}}+00:00","status":"s{{i % 5}}","note":{{(i % 97 == 0 ? "\"x\"" : "null")}}}""";
            records[i] = Record.FromUtf8(Encoding.UTF8.GetBytes(json), new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero).AddSeconds(i));
        }
        var unit = new ChunkData("k-3", "orders", Run.IngestedAt, []).Unit(Run);
        using var rows = RowTable.Read(unit.Key, records, TestContext.Current.CancellationToken);
        var (types, _) = StreamSchema.Empty.Reconcile(unit.Stream, unit.Key, Run.RunId, Run.IngestedAt, rows.Names, rows.Types);
        var order = Enumerable.Range(0, records.Length).ToList();

        // When it is written
        BronzeParquetWriter.UniqueColumns(rows, types, order, records).ShouldBe(["id", "ts", MetadataColumns.EventTs]);
        var file = Path.Combine(_root, "unique.parquet");
        BronzeParquetWriter.Write(file, "zstd", Run.Run, unit, records, rows, types, order, TestContext.Current.CancellationToken);

        // Then DuckDB finds the unique columns plain-encoded, the repeating ones with a dictionary, and every value
        using var session = DuckDbSession.Open();
        var encodings = session.Query("SELECT path_in_schema, encodings FROM parquet_metadata($1)", file).ToDictionary(r => (string)r[0]!, r => (string)r[1]!);
        foreach (var plain in new[] { "id", "ts", MetadataColumns.EventTs, MetadataColumns.RecordHash }) encodings[plain].ShouldNotContain("DICTIONARY", Case.Insensitive, plain);
        foreach (var dictionary in new[] { "status", "note", MetadataColumns.Stream }) encodings[dictionary].ShouldContain("DICTIONARY", Case.Insensitive, dictionary);
        session.Scalar("SELECT count(DISTINCT id) + count(DISTINCT ts) FROM read_parquet($1)", file).ShouldBe(10_000L);
        session.Scalar("SELECT ts FROM read_parquet($1) WHERE id = 4999 * 7919", file).ShouldBe("2024-01-01T00:23:19.004999+00:00");
    }
}
