using System.Diagnostics;
using Ingot.DuckDb;
using Ingot.DuckDb.Native;

namespace Ingot.Tests.DuckDb;

/// <summary>Resident memory is per process: measure it with no other test running.</summary>
[CollectionDefinition(nameof(MemoryMeasurement), DisableParallelization = true)]
public sealed class MemoryMeasurement;

[Collection(nameof(MemoryMeasurement))]
public sealed class NativeBindingTests
{
    [Fact]
    public void Query_Select42_ReturnsFortyTwo()
    {
        // Given a session on an in-memory database
        using var session = DuckDbSession.Open();

        // When
        var rows = session.Query("SELECT 42 AS answer, 'x' AS s, NULL AS n, 1.5::DOUBLE AS d, true AS b");

        // Then
        rows.Columns.ShouldBe(["answer", "s", "n", "d", "b"]);
        rows.Count.ShouldBe(1);
        rows[0].ShouldBe([42L, "x", null, 1.5, true]);
        DuckDbSession.LibraryVersion.ShouldStartWith("v1.5");
    }

    [Fact]
    public void Query_InvalidSql_ThrowsWithDuckDbMessage()
    {
        using var session = DuckDbSession.Open();

        var ex = Should.Throw<DuckDbException>(() => session.Query("SELEC 1"));

        ex.Message.ShouldContain("syntax error");
    }

    [Fact]
    public void Appender_MillionRowsInCycles_NoGrowthPerCycle()
    {
        // Given a database; a leak of results or appenders shows as growth from one identical cycle to the next
        using var database = DuckDbDatabase.Open();
        using var connection = database.Connect();
        long rssAfterWarmUp = 0;

        // When eight cycles of 125,000 appended rows and 1,000 freed queries run (a million rows in all)
        for (var cycle = 0; cycle < 8; cycle++)
        {
            connection.Execute("CREATE TABLE t (id BIGINT, name VARCHAR, v DOUBLE, ok BOOLEAN, ts TIMESTAMP)");
            using (var appender = connection.CreateAppender("t"))
            {
                for (var i = 0; i < 125_000; i++)
                {
                    appender.Append((long)i);
                    appender.Append(i % 3 == 0 ? "" : "station-06260");
                    appender.Append(i * 0.5);
                    appender.Append(i % 2 == 0);
                    appender.AppendTimestamp(DateTimeOffset.UnixEpoch.AddSeconds(i));
                    appender.EndRow();
                }
                appender.Close();
            }
            for (var i = 0; i < 1_000; i++)
            {
                using var result = connection.Query("SELECT count(*), 'abc' FROM range(3)");
                result.GetInt64(0, 0).ShouldBe(3);
                result.GetString(1, 0).ShouldBe("abc");
            }
            using (var count = connection.Query("SELECT count(*), count(DISTINCT id), sum(CASE WHEN name = '' THEN 1 ELSE 0 END) FROM t"))
            {
                // Then every row landed
                count.GetInt64(0, 0).ShouldBe(125_000);
                count.GetInt64(1, 0).ShouldBe(125_000);
                count.GetInt64(2, 0).ShouldBe(41_667);
            }
            connection.Execute("DROP TABLE t");
            if (cycle == 1)
            {
                GC.Collect();
                rssAfterWarmUp = Rss();
            }
        }

        // And memory after six more identical cycles is where it was after the warm-up
        GC.Collect();
        (Rss() - rssAfterWarmUp).ShouldBeLessThan(40L * 1024 * 1024, "resident memory grew across identical cycles");
    }

    [Fact]
    public void Appender_QueryLoop_DoesNotLeakResults()
    {
        using var database = DuckDbDatabase.Open();
        using var connection = database.Connect();
        for (var i = 0; i < 2_000; i++) connection.Query("SELECT 1").Dispose();
        var before = Rss();

        for (var i = 0; i < 20_000; i++)
        {
            using var result = connection.Query("SELECT repeat('x', 1000) AS s");
            result.GetString(0, 0)!.Length.ShouldBe(1000);
        }

        (Rss() - before).ShouldBeLessThan(50L * 1024 * 1024);
    }

    private static long Rss()
    {
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        return process.WorkingSet64;
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

        // When it is registered as a view and read
        batch.Register(session.Connection, "v");
        var rows = session.Query("SELECT i, l, d, b, s, CAST(t AS VARCHAR) AS t, typeof(t) AS tt FROM v");

        // Then every value and null comes back, timestamps as UTC instants
        rows.Count.ShouldBe(3);
        rows[0].ShouldBe([1, long.MaxValue, 1.5, true, "héllo", "2023-11-14 22:13:20+00", "TIMESTAMP WITH TIME ZONE"]);
        rows[1].ShouldBe([2, null, -0.25, null, null, "1970-01-01 00:00:00+00", "TIMESTAMP WITH TIME ZONE"]);
        rows[2].ShouldBe([3, -5L, null, false, "", null, "TIMESTAMP WITH TIME ZONE"]);
    }
}
