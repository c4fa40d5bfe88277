using Ingot.Postgres;
using Ingot.Tests.Infrastructure;
using Npgsql;

namespace Ingot.Tests.Postgres;

public sealed class PostgresFixtureTests(PostgresFixture pg) : IClassFixture<PostgresFixture>
{
    [Fact]
    public async Task CreateDatabase_FreshDatabase_AcceptsTablesAndQueries()
    {
        var cs = await pg.CreateDatabaseAsync();
        await PostgresFixture.ExecuteAsync(cs, "CREATE TABLE t (id int primary key, v text)", "INSERT INTO t VALUES (1, 'a'), (2, NULL)");
        var rows = await PostgresFixture.QueryAsync(cs, "SELECT v FROM t ORDER BY id");
        rows.ShouldBe(["a", null]);
    }

    [Fact]
    public async Task Connect_WrongPassword_FailsAuthentication()
    {
        await using var conn = new NpgsqlConnection(pg.ConnectionString(password: "wrong"));
        var ex = await Should.ThrowAsync<PostgresException>(() => conn.OpenAsync(TestContext.Current.CancellationToken));
        ex.SqlState.ShouldBe("28P01");
    }

    [Fact]
    public void Redacted_ConnectionStringWithPassword_HidesIt()
    {
        var redacted = PostgresConnection.Redacted(pg.ConnectionString());
        redacted.ShouldNotContain(PostgresFixture.SuperPassword);
        redacted.ShouldContain("Password=***");
    }
}
