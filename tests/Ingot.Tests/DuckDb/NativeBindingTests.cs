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
}
