using System.Diagnostics;
using System.Numerics;
using Ingot.DuckDb;
using Ingot.DuckDb.Native;

namespace Ingot.Tests.DuckDb;

/// <summary>Resident memory is per process: measure it with no other test running.</summary>
[CollectionDefinition(nameof(MemoryMeasurement), DisableParallelization = true)]
public sealed class MemoryMeasurement;

/// <summary>The SQL layer over DuckDB.NET (<see cref="DuckDbSession"/>, <see cref="DuckDbDatabase"/>) and the one native path left, the Arrow scan.</summary>
[Collection(nameof(MemoryMeasurement))]
public sealed class DuckDbSessionTests
{
    [Fact]
    public void Query_Select42_ReturnsTypedValues()
    {
        // Given a session on an in-memory database
        using var session = DuckDbSession.Open();

        // When
        var rows = session.Query("SELECT 42 AS answer, 42::BIGINT AS big, 'x' AS s, NULL AS n, 1.5::DOUBLE AS d, true AS b");

        // Then each value has its column's CLR type
        rows.Columns.ShouldBe(["answer", "big", "s", "n", "d", "b"]);
        rows.Count.ShouldBe(1);
        rows[0].ShouldBe([42, 42L, "x", null, 1.5, true]);
        rows[0][0].ShouldBeOfType<int>();
        rows[0][1].ShouldBeOfType<long>();
        DuckDbSession.LibraryVersion.ShouldStartWith("v1.5");
    }

    [Fact]
    public void Query_DecimalTimestampTzAndLists_ComeBackAsTheirTypes()
    {
        using var session = DuckDbSession.Open();

        // When values of the types a bronze table holds are read back
        var row = session.Query("""
            SELECT 1234567890.0123456789::DECIMAL(38,10) AS wide, 0.10::DECIMAL(4,2) AS cents,
                   TIMESTAMPTZ '2024-01-02 03:04:05.123456+02' AS tz, TIMESTAMP '2024-01-02 03:04:05' AS ts, DATE '2024-01-02' AS day,
                   [1, 2, 3] AS ints, ['a', NULL, 'b'] AS texts, [1.5, -2.0]::DOUBLE[] AS doubles, 170141183460469231731687303715884105727::HUGEINT AS huge
            """)[0];

        // Then a DECIMAL keeps every digit as a decimal (no rounding through double, scale kept)
        row[0].ShouldBeOfType<decimal>().ShouldBe(1234567890.0123456789m);
        ((decimal)row[1]!).ToString(System.Globalization.CultureInfo.InvariantCulture).ShouldBe("0.10");
        // And a TIMESTAMPTZ is the UTC instant, whatever the literal's offset
        var tz = row[2].ShouldBeOfType<DateTimeOffset>();
        tz.Offset.ShouldBe(TimeSpan.Zero);
        tz.ShouldBe(new DateTimeOffset(2024, 1, 2, 1, 4, 5, TimeSpan.Zero).AddTicks(1_234_560));
        row[3].ShouldBe(new DateTime(2024, 1, 2, 3, 4, 5));
        row[4].ShouldBe(new DateOnly(2024, 1, 2));
        // And a LIST is a list of its element type, nulls kept
        row[5].ShouldBeOfType<List<int>>().ShouldBe([1, 2, 3]);
        row[6].ShouldBeOfType<List<string>>().ShouldBe(["a", null!, "b"]);
        row[7].ShouldBeOfType<List<double>>().ShouldBe([1.5, -2.0]);
        row[8].ShouldBe(BigInteger.Parse("170141183460469231731687303715884105727", System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Parameters_PathWithQuotes_ReachCopyTargetAndTableFunction()
    {
        // Given a folder whose name would break a hand-quoted literal
        var dir = Directory.CreateTempSubdirectory("ingot-duck-'quote\"-").FullName;
        try
        {
            using var session = DuckDbSession.Open();
            var file = Path.Combine(dir, "x'1.parquet");

            // When a COPY writes to it and a table function reads it back, both through parameters
            session.Execute("COPY (SELECT range AS i FROM range(5)) TO $1 (FORMAT parquet)", file);
            var count = session.Scalar("SELECT count(*) FROM read_parquet($1)", file);
            var sum = session.Scalar("SELECT sum(i) FROM read_parquet($1) WHERE i >= $2", file, 2L);

            // Then
            File.Exists(file).ShouldBeTrue();
            count.ShouldBe(5L);
            sum.ShouldBe(new BigInteger(9), "DuckDB sums BIGINT into a HUGEINT");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Query_InvalidSql_ThrowsWithDuckDbMessage()
    {
        using var session = DuckDbSession.Open();

        var ex = Should.Throw<DuckDbException>(() => session.Query("SELEC 1"));

        ex.Message.ShouldStartWith("DuckDB query failed: ");
        ex.Message.ShouldContain("syntax error");
    }

    [Fact]
    public void Database_Connect_SessionsShareOneDatabaseFromManyThreads()
    {
        // Given a database with a table created on one of its sessions
        using var database = DuckDbDatabase.Open();
        using (var first = database.Connect()) first.Execute("CREATE TABLE t AS SELECT range AS i FROM range(100)");

        // When eight threads each open their own session and read it
        var counts = new long[8];
        Parallel.For(0, counts.Length, i =>
        {
            using var session = database.Connect();
            counts[i] = (long)session.Scalar("SELECT count(*) FROM t WHERE i >= $1", (long)i)!;
        });

        // Then every session saw the same database (a session of DuckDbSession.Open would not)
        counts.ShouldBe([.. Enumerable.Range(0, 8).Select(i => 100L - i)]);
        using var other = DuckDbSession.Open();
        Should.Throw<DuckDbException>(() => other.Scalar("SELECT count(*) FROM t")).Message.ShouldContain("does not exist");
    }

    [Fact]
    public void ArrowBatch_EveryColumnKindWithNulls_ReadsBackThroughAView()
    {
        // Given a three-row batch with each kind of column the Parquet destination writes, some values null
        using var session = DuckDbSession.Open();
        using var batch = new ArrowBatch(3, 6);
        var ints = batch.AddFixed<int>("i", "i");
        ints[0] = 1; ints[1] = 2; ints[2] = 3;
        var longs = batch.AddFixed<long>("l", "l");
        longs[0] = long.MaxValue; longs[2] = -5;
        batch.SetNull(1, 1);
        var doubles = batch.AddFixed<double>("d", "g");
        doubles[0] = 1.5; doubles[1] = -0.25;
        batch.SetNull(2, 2);
        batch.AddBoolean("b", row => row switch { 0 => true, 1 => null, _ => false });
        var text = batch.AddUtf8("s", 4);
        text.Append("héllo"u8);
        text.AppendNull();
        text.Append(""u8);
        var ts = batch.AddFixed<long>("t", "tsu:UTC");
        ts[0] = 1_700_000_000_000_000; ts[1] = 0;
        batch.SetNull(5, 2);

        // When it is registered (natively, on the provider's connection) as a view and read through the provider
        batch.Register(session.Connection, "v");
        var rows = session.Query("SELECT i, l, d, b, s, t, typeof(t) AS tt FROM v");

        // Then every value and null comes back typed, timestamps as UTC instants
        rows.Count.ShouldBe(3);
        rows[0].ShouldBe([1, long.MaxValue, 1.5, true, "héllo", DateTimeOffset.FromUnixTimeSeconds(1_700_000_000), "TIMESTAMP WITH TIME ZONE"]);
        rows[1].ShouldBe([2, null, -0.25, null, null, DateTimeOffset.UnixEpoch, "TIMESTAMP WITH TIME ZONE"]);
        rows[2].ShouldBe([3, -5L, null, false, "", null, "TIMESTAMP WITH TIME ZONE"]);
    }

    [Fact]
    public void ArrowBatch_StageAndDropInCycles_NoGrowthPerCycle()
    {
        // Given a database; a leak of batches, scans or sessions shows as growth from one identical cycle to the next
        using var database = DuckDbDatabase.Open();
        long rssAfterWarmUp = 0;

        // When 40 cycles each stage 50,000 rows on a new session, read them, drop the view and close (two million rows in all)
        for (var cycle = 0; cycle < 40; cycle++)
        {
            using (var session = database.Connect())
            using (var batch = new ArrowBatch(50_000, 2))
            {
                var ids = batch.AddFixed<long>("id", "l");
                var names = batch.AddUtf8("name", 50_000 * 13);
                for (var i = 0; i < 50_000; i++)
                {
                    ids[i] = i;
                    names.Append("station-06260"u8);
                }
                batch.Register(session.Connection, "v");
                // Then every row is there
                session.Query("SELECT count(*), count(DISTINCT id), min(name) FROM v")[0].ShouldBe([50_000L, 50_000L, "station-06260"]);
                session.Execute("DROP VIEW v");
            }
            if (cycle == 4)
            {
                GC.Collect();
                rssAfterWarmUp = Rss();
            }
        }

        // And memory after 35 more identical cycles is where it was after the warm-up
        GC.Collect();
        (Rss() - rssAfterWarmUp).ShouldBeLessThan(40L * 1024 * 1024, "resident memory grew across identical cycles");
    }

    [Fact]
    public void Query_Loop_DoesNotLeakResults()
    {
        using var session = DuckDbSession.Open();
        for (var i = 0; i < 2_000; i++) session.Query("SELECT 1");
        GC.Collect();
        var before = Rss();

        for (var i = 0; i < 20_000; i++) ((string)session.Scalar("SELECT repeat('x', 1000) AS s")!).Length.ShouldBe(1000);

        GC.Collect();
        (Rss() - before).ShouldBeLessThan(50L * 1024 * 1024);
    }

    [Fact]
    public void BuildOutput_OneDuckDbLibrary_ForOnePlatform()
    {
        // Given the test binaries (built like the CLI: one RuntimeIdentifier, natives flat next to the assemblies)
        var dir = AppContext.BaseDirectory;

        // Then DuckDB's native library is there once, and no other platform's copy came along
        File.Exists(Path.Combine(dir, "libduckdb.so")).ShouldBeTrue();
        Directory.EnumerateFiles(dir, "*duckdb*", SearchOption.AllDirectories)
            .Where(f => !f.EndsWith(".dll", StringComparison.Ordinal) && !f.EndsWith(".pdb", StringComparison.Ordinal))
            .Select(f => Path.GetRelativePath(dir, f)).ShouldBe(["libduckdb.so"]);
    }

    private static long Rss()
    {
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        return process.WorkingSet64;
    }
}
