using Npgsql;

namespace Ingot.Postgres;

/// <summary>
/// Shared by the PostgreSQL source and destination: the <c>connection</c> setting (an Npgsql connection string or a
/// <c>postgres://</c> URL) read into one connection string, its password as a secret, and the connection string with its
/// password removed for anything that is written (logs, state, errors — invariant 7).
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

    /// <summary>
    /// <c>Host=…;Username=…</c> as it is, or <c>postgres://user:password@host:port/database?sslmode=require</c> as the same
    /// settings; throws <see cref="FormatException"/> naming what is wrong (never the password).
    /// </summary>
    public static string Normalize(string connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var text = connection.Trim();
        NpgsqlConnectionStringBuilder builder;
        if (text.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) || text.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase))
        {
            if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
                throw new FormatException("not a valid postgres:// URL (expected postgres://user:password@host:port/database)");
            builder = new NpgsqlConnectionStringBuilder { Host = uri.Host };
            if (!uri.IsDefaultPort && uri.Port > 0) builder.Port = uri.Port;
            if (uri.UserInfo.Length > 0)
            {
                var colon = uri.UserInfo.IndexOf(':', StringComparison.Ordinal);
                builder.Username = Uri.UnescapeDataString(colon < 0 ? uri.UserInfo : uri.UserInfo[..colon]);
                if (colon >= 0) builder.Password = Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]);
            }
            var database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
            if (database.Length > 0) builder.Database = database;
            foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                var eq = pair.IndexOf('=', StringComparison.Ordinal);
                var key = Uri.UnescapeDataString(eq < 0 ? pair : pair[..eq]);
                var value = eq < 0 ? "" : Uri.UnescapeDataString(pair[(eq + 1)..]);
                try
                {
                    builder[key] = value;
                }
                catch (ArgumentException)
                {
                    throw new FormatException($"the URL's parameter '{key}' is not an Npgsql connection setting");
                }
            }
        }
        else
        {
            try
            {
                builder = new NpgsqlConnectionStringBuilder(text);
            }
            catch (ArgumentException e)
            {
                // Npgsql's message names the keyword, not its value: safe to show.
                throw new FormatException($"not a valid Npgsql connection string or postgres:// URL ({e.Message})");
            }
        }
        if (string.IsNullOrEmpty(builder.Host)) throw new FormatException("the connection names no host (Host=… or postgres://host/…)");
        return builder.ConnectionString;
    }

    /// <summary>The password of a normalized connection string, registered as a secret; null when it has none.</summary>
    public static string? Password(string connectionString) => new NpgsqlConnectionStringBuilder(connectionString).Password;
}
