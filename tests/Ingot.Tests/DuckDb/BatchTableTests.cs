using System.Globalization;
using System.Text;
using Ingot.Destinations;
using Ingot.DuckDb;
using Ingot.DuckDb.Parquet;
using Ingot.Records;
using Record = Ingot.Records.Record;

namespace Ingot.Tests.DuckDb;

/// <summary>
/// A part of typed batch rows (a database source's pages) written straight from the values against the same records
/// written through their JSON (<see cref="RowTable"/>): the same columns and types, the same rows, the same hashes — for
/// every kind a batch holds, nulls, all-null columns, decimals that are not numbers, several batches in one part, and
/// established stream types wider than the part's own.
/// </summary>
public sealed class BatchTableTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("ingot-batch-table-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static readonly TestRunContext Run = new(Guid.Parse("0b6f3c2b-9a8e-4d7c-b6a5-0e1f2a3b4c5d"), "p", "postgres", new DateTimeOffset(2024, 5, 6, 7, 8, 9, 123, TimeSpan.Zero), LoadType.Full);

    private static readonly BatchColumn[] Columns =
    [
        new("order_id", BatchKind.Integer), new("paid", BatchKind.Boolean), new("status", BatchKind.Text), new("amount", BatchKind.Number),
        new("ratio", BatchKind.Number), new("whole", BatchKind.Number), new("note", BatchKind.Text), new("never", BatchKind.Integer),
        new("placed_at", BatchKind.Text),
    ];

    /// <summary><paramref name="pages"/> batches of <paramref name="rows"/> rows each, as records in page order.</summary>
    private static Record[] Records(int pages, int rows)
    {
        var records = new List<Record>();
        for (var p = 0; p < pages; p++)
        {
            var batch = new RowBatch(Columns, rows);
            for (var r = 0; r < rows; r++)
            {
                var i = p * rows + r;
                batch.Integer(0, i % 11 == 0 ? long.MinValue + i : i);
                if (i % 5 == 0) batch.Null(1); else batch.Boolean(1, i % 2 == 0);
                batch.Text(2, Encoding.UTF8.GetBytes(new[] { "new", "paid", "esc \"q\" \\ \n", "ünïcødé ✓ 😀", "" }[i % 5]));
                batch.Text(3, Encoding.UTF8.GetBytes((i * 37 % 100000 / 100.0).ToString("0.00", CultureInfo.InvariantCulture)));
                if (i % 7 == 0) batch.Text(4, "NaN"u8); else batch.Text(4, Encoding.UTF8.GetBytes((i / 3.0).ToString("R", CultureInfo.InvariantCulture)));
                batch.Text(5, Encoding.UTF8.GetBytes((i * 1000L).ToString(CultureInfo.InvariantCulture)));
                if (i % 4 == 0) batch.Text(6, "gift wrap, leave at door"u8); else batch.Null(6);
                batch.Null(7);
                batch.Text(8, Encoding.UTF8.GetBytes(new DateTime(2024, 1, 1).AddSeconds(i * 2.5).ToString("yyyy-MM-ddTHH:mm:ss.FFFFFF", CultureInfo.InvariantCulture) + "+00:00"));
                batch.EndRow();
            }
            for (var r = 0; r < rows; r++)
            {
                DateTimeOffset? ts = (p * rows + r) % 9 == 0 ? null : new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero).AddMinutes(p * rows + r);
                records.Add(Record.FromBatch(batch, r, ts));
            }
        }
        return [.. records];
    }

    private static Record[] AsJson(Record[] records) =>
        [.. records.Select(r => { r.TryGetUtf8(out var json); return Record.FromUtf8(json.ToArray(), r.EventTs); })];

    [Theory]
    [InlineData(1, 50, false)]
    [InlineData(3, 10_000, false)]
    [InlineData(2, 300, true)]
    public void Typed_part_writes_the_table_its_json_writes(int pages, int rows, bool widened)
    {
        var records = Records(pages, rows);
        var unit = new ChunkData("k-1", "orders", Run.IngestedAt, []).Unit(Run);
        using var typed = BatchTable.TryRead(records, TestContext.Current.CancellationToken);
        typed.ShouldNotBeNull();
        using var json = RowTable.Read(unit.Key, AsJson(records), TestContext.Current.CancellationToken);

        // The same columns, types and hashes as the JSON path finds
        typed.Names.ShouldBe(json.Names);
        typed.Types.ShouldBe(json.Types);
        typed.Types.ShouldBe([ColumnType.BigInt, ColumnType.Boolean, ColumnType.Varchar, ColumnType.Double, ColumnType.Varchar, ColumnType.BigInt, ColumnType.Varchar, ColumnType.Unknown, ColumnType.Varchar]);
        typed.Hashes.AsSpan(0, records.Length * RowBatch.HashLength).SequenceEqual(json.Hashes.AsSpan(0, records.Length * RowBatch.HashLength)).ShouldBeTrue();
        for (var r = 0; r < records.Length; r += 97)
        {
            for (var c = 0; c < typed.ColumnCount; c++) typed.Text(r, c).ShouldBe(json.Text(r, c));
            typed.EstimateBytes(r).ShouldBe(json.EstimateBytes(r));
        }

        // Written with the stream's established types (wider ones: integers as DOUBLE and VARCHAR, booleans as VARCHAR)
        var stream = StreamSchema.Empty;
        if (widened)
        {
            (_, var changed) = stream.Reconcile(unit.Stream, "earlier", Run.RunId, Run.IngestedAt,
                ["order_id", "paid", "whole", "never"], [ColumnType.Double, ColumnType.Varchar, ColumnType.Varchar, ColumnType.BigInt]);
            stream = changed!;
        }
        var (types, _) = stream.Reconcile(unit.Stream, unit.Key, Run.RunId, Run.IngestedAt, typed.Names, typed.Types);
        var order = Enumerable.Range(0, records.Length).ToList();
        var mine = Path.Combine(_root, "typed.parquet");
        var theirs = Path.Combine(_root, "json.parquet");
        BronzeParquetWriter.Write(mine, "zstd", Run.Run, unit, records, typed, types, order, TestContext.Current.CancellationToken);
        BronzeParquetWriter.Write(theirs, "zstd", Run.Run, unit, records, json, types, order, TestContext.Current.CancellationToken);

        using var session = DuckDbSession.Open();
        string Describe(string file) => string.Join('\n', session.Query("DESCRIBE SELECT * FROM read_parquet($1)", file).Select(row => $"{row[0]} {row[1]}"));
        Describe(mine).ShouldBe(Describe(theirs));
        if (widened) Describe(mine).ShouldContain("order_id DOUBLE");
        foreach (var (a, b) in new[] { (mine, theirs), (theirs, mine) })
        {
            Convert.ToInt64(session.Scalar("SELECT count(*) FROM (SELECT * FROM read_parquet($1) EXCEPT ALL SELECT * FROM read_parquet($2))", a, b), CultureInfo.InvariantCulture)
                .ShouldBe(0, $"rows of {Path.GetFileName(a)} missing from {Path.GetFileName(b)}");
        }
        Convert.ToInt64(session.Scalar("SELECT count(*) FROM read_parquet($1)", mine), CultureInfo.InvariantCulture).ShouldBe(records.Length);
        session.Scalar("SELECT status FROM read_parquet($1) WHERE _record_hash = $2", mine, Encoding.ASCII.GetString(typed.Hashes, 2 * 32, 32)).ShouldBe("esc \"q\" \\ \n");
    }

    [Fact]
    public void Records_not_all_batch_rows_are_left_to_the_json_path()
    {
        var records = Records(1, 10);
        TryRead([.. records, Record.FromUtf8("{}"u8.ToArray(), null)]).ShouldBeFalse();
        TryRead([.. records.Take(5), .. Records(1, 5)]).ShouldBeTrue();
        var withJson = new RowBatch([new("doc", BatchKind.Json)], 4);
        withJson.Text(0, "{\"a\":1}"u8);
        withJson.EndRow();
        TryRead([Record.FromBatch(withJson, 0, null)]).ShouldBeFalse();
        var other = new RowBatch([new("order_id", BatchKind.Integer)], 4);
        other.Integer(0, 1);
        other.EndRow();
        TryRead([.. records, Record.FromBatch(other, 0, null)]).ShouldBeFalse();
        _ = records[0].Fields;
        TryRead(records).ShouldBeFalse();

        static bool TryRead(Record[] records)
        {
            using var table = BatchTable.TryRead(records, TestContext.Current.CancellationToken);
            return table is not null;
        }
    }
}
