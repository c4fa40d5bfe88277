using System.Net.Sockets;
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

    /// <summary>
    /// An Npgsql connection string from what a pipeline says: a connection string as it is, or a
    /// <c>postgres://user:password@host:port/database?sslmode=require</c> URL (user and password percent-decoded, query
    /// parameters as connection string keywords). Throws <see cref="ArgumentException"/> with a message that never holds
    /// the password.
    /// </summary>
    public static string Normalize(string setting)
    {
        if (!setting.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) && !setting.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                return new NpgsqlConnectionStringBuilder(setting).ConnectionString;
            }
            catch (Exception e) when (e is ArgumentException or FormatException or KeyNotFoundException)
            {
                // Npgsql's message may quote the offending pair, and a pair may be the password: name the problem only.
                throw new ArgumentException("not a valid Npgsql connection string or postgres:// URL", e);
            }
        }
        if (!Uri.TryCreate(setting, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
            throw new ArgumentException("not a valid postgres:// URL (postgres://user:password@host:port/database)");
        var builder = new NpgsqlConnectionStringBuilder { Host = uri.Host.Trim('[', ']') };
        if (!uri.IsDefaultPort && uri.Port > 0) builder.Port = uri.Port;
        var db = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
        if (db.Length > 0) builder.Database = db;
        if (uri.UserInfo.Length > 0)
        {
            var colon = uri.UserInfo.IndexOf(':', StringComparison.Ordinal);
            builder.Username = Uri.UnescapeDataString(colon < 0 ? uri.UserInfo : uri.UserInfo[..colon]);
            if (colon >= 0) builder.Password = Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]);
        }
        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            var key = Uri.UnescapeDataString(eq < 0 ? pair : pair[..eq]);
            var value = eq < 0 ? "" : Uri.UnescapeDataString(pair[(eq + 1)..]);
            try
            {
                builder[key switch { "sslmode" => "SSL Mode", "application_name" => "Application Name", "connect_timeout" => "Timeout", _ => key }] = value;
            }
            catch (Exception e) when (e is ArgumentException or FormatException or KeyNotFoundException)
            {
                throw new ArgumentException($"postgres:// URL: '{key}' is not a connection parameter Npgsql knows", e);
            }
        }
        return builder.ConnectionString;
    }

    /// <summary>
    /// A section's <c>connection</c> (required) as a normalized connection string; a malformed one is a configuration
    /// error at its <c>file:line:col</c>, in words that never hold the password.
    /// </summary>
    public static string Read(Config.ConfigSection section)
    {
        var connection = section.Required("connection");
        try
        {
            return Normalize(connection.Value);
        }
        catch (ArgumentException e)
        {
            throw section.Context.Error(connection.Node, $"{section.Path}.connection: {e.Message}");
        }
    }

    /// <summary>The password of a (normalized) connection string, to register for redaction.</summary>
    public static string? Password(string connectionString) => new NpgsqlConnectionStringBuilder(connectionString).Password;

    /// <summary><c>host:port/database as user</c>: who we talk to, for errors and the raw archive's request line.</summary>
    public static string Describe(string connectionString)
    {
        var b = new NpgsqlConnectionStringBuilder(connectionString);
        return $"{b.Host}:{b.Port}/{b.Database ?? b.Username} as {b.Username}";
    }

    /// <summary>
    /// True for failures to reach or log in to the server (refused, unknown host, timeout, bad password, no such database
    /// or role): the error people must fix, reported in one line rather than as a failing query.
    /// </summary>
    public static bool IsConnectFailure(Exception e) => e switch
    {
        PostgresException p => p.SqlState is "28P01" or "28000" or "3D000" or "53300" or "57P03",
        NpgsqlException { InnerException: SocketException or TimeoutException or IOException } => true,
        NpgsqlException n when n.Message.StartsWith("Failed to connect", StringComparison.Ordinal) => true,
        SocketException => true,
        _ => false,
    };

    /// <summary>One line naming host and database and the reason, never the password.</summary>
    public static string ConnectError(string connectionString, Exception e)
    {
        var reason = e switch
        {
            PostgresException p => p.MessageText,
            NpgsqlException { InnerException: SocketException s } => s.Message,
            NpgsqlException { InnerException: TimeoutException } => "the connection timed out",
            _ => e.Message,
        };
        var password = Password(connectionString);
        if (!string.IsNullOrEmpty(password)) reason = reason.Replace(password, "***", StringComparison.Ordinal);
        return $"cannot connect to PostgreSQL at {Describe(connectionString)}: {reason}";
    }
}
