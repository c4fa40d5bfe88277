using Npgsql;

namespace Ingot.Postgres;

/// <summary>
/// Shared by the PostgreSQL source and destination: one <see cref="NpgsqlDataSource"/> per connection string, and the
/// connection string with its password removed for anything that is written (logs, state, errors — invariant 7).
/// </summary>
internal static class PostgresConnection
{
    /// <summary>The connection string without <c>Password</c>, safe to print.</summary>
    public static string Redacted(string connectionString)
    {
        try
        {
            var builder = new NpgsqlConnectionStringBuilder(connectionString);
            if (builder.Password is not null) builder.Password = "***";
            return builder.ConnectionString;
        }
        catch (ArgumentException)
        {
            return "(unparsable connection string)";
        }
    }
}
