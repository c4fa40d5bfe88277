using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Ingot.Iceberg.Catalog;

public enum CatalogKind { Sqlite, Postgres }

/// <summary>Where the SQL catalog lives: a SQLite file (<c>sqlite:///path</c>) or a PostgreSQL database.</summary>
public sealed record CatalogSpec(CatalogKind Kind, string Target)
{
    /// <summary>The PostgreSQL password, registered for redaction; null for SQLite.</summary>
    public string? Password => Kind == CatalogKind.Postgres ? new NpgsqlConnectionStringBuilder(Target).Password : null;

    /// <summary>For messages: the SQLite path, or the connection string without its password.</summary>
    public string Describe => Kind == CatalogKind.Sqlite ? $"sqlite:///{Target.TrimStart('/')}" : Postgres.PostgresConnection.Redacted(Target);

    public static CatalogSpec DefaultFor(string warehouse) => new(CatalogKind.Sqlite, Path.GetFullPath(Path.Combine(warehouse, "catalog.db")));

    /// <summary><c>sqlite:///relative/or/absolute.db</c>, an Npgsql connection string, or a <c>postgres://</c> URL.</summary>
    public static CatalogSpec Parse(string text)
    {
        if (text.StartsWith("sqlite://", StringComparison.OrdinalIgnoreCase))
        {
            // sqlite:///abs/path (three slashes: an absolute path) or sqlite:///./rel or sqlite://rel
            var rest = text["sqlite://".Length..];
            if (rest.Length == 0 || rest == "/") throw new FormatException("sqlite:// needs a file path, e.g. sqlite:///var/lib/ingot/catalog.db");
            if (rest.StartsWith("/./", StringComparison.Ordinal) || rest.StartsWith("/../", StringComparison.Ordinal)) rest = rest[1..];
            return new CatalogSpec(CatalogKind.Sqlite, Path.GetFullPath(rest));
        }
        if (text.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) || text.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase))
            return new CatalogSpec(CatalogKind.Postgres, FromUrl(text));
        try
        {
            var builder = new NpgsqlConnectionStringBuilder(text);
            if (string.IsNullOrEmpty(builder.Host)) throw new FormatException("expected sqlite:///path or a PostgreSQL connection string (Host=…;Database=…)");
            return new CatalogSpec(CatalogKind.Postgres, builder.ConnectionString);
        }
        catch (ArgumentException)
        {
            throw new FormatException("expected sqlite:///path or a PostgreSQL connection string (Host=…;Database=…) or a postgres:// URL");
        }
    }

    private static string FromUrl(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var u) || string.IsNullOrEmpty(u.Host)) throw new FormatException("not a valid postgres:// URL");
        var builder = new NpgsqlConnectionStringBuilder { Host = u.Host, Database = Uri.UnescapeDataString(u.AbsolutePath.TrimStart('/')) };
        if (u.Port > 0) builder.Port = u.Port;
        if (u.UserInfo.Length > 0)
        {
            var parts = u.UserInfo.Split(':', 2);
            builder.Username = Uri.UnescapeDataString(parts[0]);
            if (parts.Length == 2) builder.Password = Uri.UnescapeDataString(parts[1]);
        }
        return builder.ConnectionString;
    }
}

/// <summary>
/// The SQL catalog of PyIceberg's <c>SqlCatalog</c> and Java's <c>JdbcCatalog</c> (their tables, their DDL, their
/// optimistic commit), so either client opens the tables Ingot writes: <c>iceberg_tables</c> holds each table's current
/// <c>metadata_location</c>, and a commit is a compare-and-swap of it (notes/iceberg.md §7).
/// </summary>
internal sealed class SqlCatalog : IAsyncDisposable
{
    private readonly CatalogSpec _spec;
    private readonly NpgsqlDataSource? _postgres;
    private readonly string? _sqlite;
    private readonly SemaphoreSlim _ready = new(1, 1);
    private bool _schemaChecked;

    public SqlCatalog(CatalogSpec spec)
    {
        _spec = spec;
        if (spec.Kind == CatalogKind.Postgres) _postgres = NpgsqlDataSource.Create(spec.Target);
        else _sqlite = new SqliteConnectionStringBuilder { DataSource = spec.Target, DefaultTimeout = 30, Pooling = false }.ConnectionString;
    }

    public string Describe => _spec.Describe;

    private async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        DbConnection connection;
        if (_postgres is not null)
        {
            connection = await _postgres.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        }
        else
        {
            Directory.CreateDirectory(Path.GetDirectoryName(_spec.Target)!);
            connection = new SqliteConnection(_sqlite);
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        }
        if (!_schemaChecked) await EnsureSchemaAsync(connection, cancellationToken).ConfigureAwait(false);
        return connection;
    }

    private async Task EnsureSchemaAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        await _ready.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_schemaChecked) return;
            foreach (var ddl in new[]
            {
                """
                CREATE TABLE IF NOT EXISTS iceberg_tables (
                  catalog_name VARCHAR(255) NOT NULL, table_namespace VARCHAR(255) NOT NULL, table_name VARCHAR(255) NOT NULL,
                  metadata_location VARCHAR(1000), previous_metadata_location VARCHAR(1000), iceberg_type VARCHAR(5),
                  PRIMARY KEY (catalog_name, table_namespace, table_name))
                """,
                """
                CREATE TABLE IF NOT EXISTS iceberg_namespace_properties (
                  catalog_name VARCHAR(255) NOT NULL, namespace VARCHAR(255) NOT NULL, property_key VARCHAR(255) NOT NULL,
                  property_value VARCHAR(1000), PRIMARY KEY (catalog_name, namespace, property_key))
                """,
            })
            {
                try
                {
                    await ExecuteAsync(connection, ddl, cancellationToken).ConfigureAwait(false);
                }
                catch (PostgresException e) when (e.SqlState is "23505" or "42P07")
                {
                    // Two first writers raced to create the catalog's tables; the other one's DDL won.
                }
            }
            // A "v0" catalog (older PyIceberg / Java) lacks iceberg_type: add it, as PyIceberg does when told schema v1.
            try
            {
                await ExecuteAsync(connection, "SELECT iceberg_type FROM iceberg_tables LIMIT 0", cancellationToken).ConfigureAwait(false);
            }
            catch (DbException)
            {
                await ExecuteAsync(connection, "ALTER TABLE iceberg_tables ADD COLUMN iceberg_type VARCHAR(5)", cancellationToken).ConfigureAwait(false);
            }
            _schemaChecked = true;
        }
        finally
        {
            _ready.Release();
        }
    }

    private static async Task<int> ExecuteAsync(DbConnection connection, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, sql, parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static DbCommand Command(DbConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            var p = command.CreateParameter();
            p.ParameterName = name;
            p.Value = value ?? DBNull.Value;
            command.Parameters.Add(p);
        }
        return command;
    }

    /// <summary>The table's current metadata file, or null when the catalog has no such table.</summary>
    public async Task<string?> LoadAsync(string catalog, string ns, string table, CancellationToken cancellationToken)
    {
        var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            await using var command = Command(connection,
                "SELECT metadata_location FROM iceberg_tables WHERE catalog_name = @c AND table_namespace = @n AND table_name = @t AND (iceberg_type = 'TABLE' OR iceberg_type IS NULL)",
                ("@c", catalog), ("@n", ns), ("@t", table));
            return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as string;
        }
    }

    /// <summary>Registers a new table (and its namespace); false when another writer created it first.</summary>
    public async Task<bool> CreateAsync(string catalog, string ns, string table, string metadataLocation, CancellationToken cancellationToken)
    {
        var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            await ExecuteAsync(connection,
                "INSERT INTO iceberg_namespace_properties (catalog_name, namespace, property_key, property_value) VALUES (@c, @n, 'exists', 'true') ON CONFLICT DO NOTHING",
                cancellationToken, ("@c", catalog), ("@n", ns)).ConfigureAwait(false);
            try
            {
                await ExecuteAsync(connection,
                    "INSERT INTO iceberg_tables (catalog_name, table_namespace, table_name, metadata_location, previous_metadata_location, iceberg_type) VALUES (@c, @n, @t, @m, NULL, 'TABLE')",
                    cancellationToken, ("@c", catalog), ("@n", ns), ("@t", table), ("@m", metadataLocation)).ConfigureAwait(false);
                return true;
            }
            catch (PostgresException e) when (e.SqlState == "23505")
            {
                return false;
            }
            catch (SqliteException e) when (e.SqliteErrorCode == 19) // SQLITE_CONSTRAINT
            {
                return false;
            }
        }
    }

    /// <summary>The commit: <c>metadata_location</c> moves from <paramref name="expected"/> to <paramref name="next"/> only if nobody moved it since.</summary>
    public async Task<bool> SwapAsync(string catalog, string ns, string table, string expected, string next, CancellationToken cancellationToken)
    {
        var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var changed = await ExecuteAsync(connection,
                """
                UPDATE iceberg_tables SET metadata_location = @new, previous_metadata_location = @old
                 WHERE catalog_name = @c AND table_namespace = @n AND table_name = @t AND metadata_location = @old
                   AND (iceberg_type = 'TABLE' OR iceberg_type IS NULL)
                """, cancellationToken, ("@new", next), ("@old", expected), ("@c", catalog), ("@n", ns), ("@t", table)).ConfigureAwait(false);
            return changed == 1;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_postgres is not null) await _postgres.DisposeAsync().ConfigureAwait(false);
        _ready.Dispose();
    }
}
