using System.Diagnostics;
using Ingot.DuckDb;
using Ingot.DuckDb.Native;

namespace Ingot.Tests.DuckDb;

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
    public void Appender_MillionRows_AllRowsLandAndMemoryStaysBounded()
    {
        // Given a table and an appender
        using var database = DuckDbDatabase.Open();
        using var connection = database.Connect();
        connection.Execute("CREATE TABLE t (id BIGINT, name VARCHAR, v DOUBLE, ok BOOLEAN, ts TIMESTAMP)");
        var rssBefore = Rss();

        // When a million rows go through it, and a few thousand queries are run and freed
        for (var round = 0; round < 2; round++)
        {
            using var appender = connection.CreateAppender("t");
            for (var i = 0; i < 500_000; i++)
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
        for (var i = 0; i < 5_000; i++)
        {
            using var result = connection.Query("SELECT count(*), 'abc' FROM range(3)");
            result.GetInt64(0, 0).ShouldBe(3);
            result.GetString(1, 0).ShouldBe("abc");
        }
        connection.Execute("DELETE FROM t WHERE id >= 0 AND false");
        using var count = connection.Query("SELECT count(*), count(DISTINCT id), sum(CASE WHEN name = '' THEN 1 ELSE 0 END) FROM t");

        // Then
        count.GetInt64(0, 0).ShouldBe(1_000_000);
        count.GetInt64(1, 0).ShouldBe(500_000);
        count.GetInt64(2, 0).ShouldBe(333_334);
        connection.Execute("DROP TABLE t");
        GC.Collect();
        (Rss() - rssBefore).ShouldBeLessThan(100L * 1024 * 1024, "resident memory grew by more than 100 MB");
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
