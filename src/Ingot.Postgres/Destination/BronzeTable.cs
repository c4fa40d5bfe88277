using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Ingot.Config;
using Npgsql;

namespace Ingot.Postgres.Destination;

/// <summary>
/// One stream's bronze table (DESIGN §5.2): its DDL, the check of an existing table against it, and its monthly
/// partitions <c>&lt;table&gt;_yYYYYmMM</c> on <c>partition_key</c>, created on demand and race-safely (notes/sources.md):
/// under a transaction-scoped advisory lock, as a plain table <c>(LIKE parent)</c> then <c>ATTACH PARTITION</c>, which
/// takes only SHARE UPDATE EXCLUSIVE on the parent — so a month is added while other units' COPYs into the parent run,
/// where <c>CREATE TABLE … PARTITION OF</c> would queue behind them for ACCESS EXCLUSIVE. No DEFAULT partition: a row
/// there would make every later month's attach fail, and rows never arrive without their month created first.
/// </summary>
internal sealed class BronzeTable
{
    /// <summary>PostgreSQL truncates names at 63 bytes; a partition adds 9 (<c>_y2024m01</c>), an index at most 8.</summary>
    public const int MaxNameBytes = 63 - 9;

    /// <summary>The columns of §5.2 in COPY order (without the identity <c>id</c>) with the types <c>format_type</c> spells.</summary>
    internal static readonly (string Name, string Type, bool NotNull)[] Columns =
    [
        ("id", "bigint", true),
        ("source", "text", true),
        ("raw_data", "jsonb", true),
        ("ingested_at", "timestamp with time zone", true),
        ("source_timestamp", "timestamp with time zone", false),
        ("raw_id", "text", false),
        ("validation_status", "text", true),
        ("error_message", "text", false),
        ("metadata", "jsonb", true),
        ("environment", "text", true),
        ("pipeline_run_id", "uuid", true),
        ("pipeline_version", "text", false),
        ("_stream", "text", true),
        ("_source_system", "text", true),
        ("_chunk_key", "text", true),
        ("_record_hash", "text", true),
        ("partition_key", "date", true),
    ];

    /// <summary>The advisory lock space of Ingot's DDL (schema, unit table, bronze tables and their partitions).</summary>
    private const int DdlLockSpace = 0x1260_7001;

    private readonly ConcurrentDictionary<int, bool> _partitions = new();

    public BronzeTable(string schema, string name, BronzePartitioning partitioning)
    {
        Schema = schema;
        Name = name;
        Partitioning = partitioning;
        Qualified = $"{Quote(schema)}.{Quote(name)}";
    }

    public string Schema { get; }
    public string Name { get; }
    public BronzePartitioning Partitioning { get; }

    /// <summary><c>"schema"."table"</c>.</summary>
    public string Qualified { get; }

    public string Display => $"{Schema}.{Name}";

    public static string Quote(string identifier) => $"\"{identifier}\"";

    /// <summary>The table name for a stream (<c>{pipeline}</c>, <c>{source}</c>, <c>{stream}</c> replaced), checked against PostgreSQL's name limit.</summary>
    public static string NameFor(string template, string pipeline, string source, string stream, string destination)
    {
        var name = template.Replace("{pipeline}", pipeline, StringComparison.Ordinal).Replace("{source}", source, StringComparison.Ordinal).Replace("{stream}", stream, StringComparison.Ordinal);
        var bytes = Encoding.UTF8.GetByteCount(name);
        if (bytes > MaxNameBytes)
            throw new ConfigException($"destination {destination}: the table name '{name}' (stream {stream}) is {bytes} bytes; PostgreSQL keeps names to 63 bytes and a monthly partition adds 9, "
                + $"so at most {MaxNameBytes} fit: set a shorter table: (e.g. table: bronze_{{source}})");
        return name;
    }

    public static string PartitionName(string table, int month) =>
        string.Create(CultureInfo.InvariantCulture, $"{table}_y{month / 12:D4}m{month % 12 + 1:D2}");

    /// <summary>A month as one number (<c>year * 12 + month - 1</c>) for the row's partition key.</summary>
    public static int MonthOf(DateOnly day) => day.Year * 12 + day.Month - 1;

    private static string FirstDay(int month) => string.Create(CultureInfo.InvariantCulture, $"{month / 12:D4}-{month % 12 + 1:D2}-01");

    /// <summary>Locks Ingot's DDL on <paramref name="what"/> until the transaction ends: concurrent runs create each object once.</summary>
    public static async Task LockDdlAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string what, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand("SELECT pg_advisory_xact_lock($1, hashtext($2))", connection, tx) { Parameters = { new() { Value = DdlLockSpace }, new() { Value = what } } };
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private string CreateSql()
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"CREATE TABLE {Qualified} (\n");
        sb.Append("  id bigint GENERATED ALWAYS AS IDENTITY,\n");
        foreach (var (name, type, notNull) in Columns.Skip(1))
        {
            sb.Append(CultureInfo.InvariantCulture, $"  {name} {type}{(notNull ? " NOT NULL" : "")}");
            if (name == "validation_status") sb.Append(CultureInfo.InvariantCulture, $" CONSTRAINT {Quote(Name + "_vs_chk")} CHECK (validation_status IN ('valid', 'invalid', 'warning'))");
            sb.Append(",\n");
        }
        sb.Append(CultureInfo.InvariantCulture, $"  CONSTRAINT {Quote(Name + "_pkey")} PRIMARY KEY (id, partition_key)\n)");
        if (Partitioning == BronzePartitioning.Monthly) sb.Append(" PARTITION BY RANGE (partition_key)");
        return sb.ToString();
    }

    private IEnumerable<string> IndexSql() =>
    [
        $"CREATE INDEX {Quote(Name + "_ts_idx")} ON {Qualified} (source_timestamp)",
        $"CREATE INDEX {Quote(Name + "_vs_idx")} ON {Qualified} (validation_status)",
        $"CREATE INDEX {Quote(Name + "_run_idx")} ON {Qualified} (pipeline_run_id)",
        $"CREATE INDEX {Quote(Name + "_ck_idx")} ON {Qualified} (_chunk_key)",
        $"CREATE INDEX {Quote(Name + "_gin")} ON {Qualified} USING gin (raw_data)",
    ];

    /// <summary>
    /// Creates the table with its indexes when it is missing; checks an existing one (never alters it). Returns whether
    /// it was created. Runs in <paramref name="tx"/>, which holds the DDL lock for the table.
    /// </summary>
    public async Task<bool> EnsureAsync(NpgsqlConnection connection, NpgsqlTransaction tx, CancellationToken cancellationToken)
    {
        await LockDdlAsync(connection, tx, Display, cancellationToken).ConfigureAwait(false);
        if (await CheckAsync(connection, tx, cancellationToken).ConfigureAwait(false)) return false;
        await Execute(connection, tx, CreateSql(), cancellationToken).ConfigureAwait(false);
        foreach (var sql in IndexSql()) await Execute(connection, tx, sql, cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>False when the table does not exist; throws <see cref="BronzeSchemaException"/> when it exists in another shape.</summary>
    public async Task<bool> CheckAsync(NpgsqlConnection connection, NpgsqlTransaction? tx, CancellationToken cancellationToken)
    {
        const string sql = """
            SELECT c.relkind::text, coalesce(pg_get_partkeydef(c.oid), ''), a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attidentity::text
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
            WHERE n.nspname = $1 AND c.relname = $2
            ORDER BY a.attnum
            """;
        var found = new List<(string Name, string Type, bool NotNull, string Identity)>();
        string? kind = null, partKey = null;
        await using (var cmd = new NpgsqlCommand(sql, connection, tx) { Parameters = { new() { Value = Schema }, new() { Value = Name } } })
        await using (var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                kind = reader.GetString(0);
                partKey = reader.GetString(1);
                if (!reader.IsDBNull(2)) found.Add((reader.GetString(2), reader.GetString(3), reader.GetBoolean(4), reader.GetString(5)));
            }
        }
        if (kind is null) return false;
        var problems = new List<string>();
        var expectPartitioned = Partitioning == BronzePartitioning.Monthly;
        if (kind is not ("r" or "p")) problems.Add($"it is not a table (relkind {kind})");
        else if (expectPartitioned && (kind != "p" || !string.Equals(partKey, "RANGE (partition_key)", StringComparison.Ordinal)))
            problems.Add(kind == "p" ? $"it is partitioned by {partKey}, not RANGE (partition_key)" : "it is not partitioned (partition: monthly wants RANGE (partition_key))");
        else if (!expectPartitioned && kind == "p") problems.Add($"it is partitioned by {partKey} (partition: none wants a plain table)");
        var byName = found.ToDictionary(f => f.Name, StringComparer.Ordinal);
        foreach (var (name, type, notNull) in Columns)
        {
            if (!byName.Remove(name, out var f)) problems.Add($"column {name} is missing");
            else if (f.Type != type) problems.Add($"column {name} is {f.Type}, not {type}");
            else if (f.NotNull != notNull) problems.Add($"column {name} is {(f.NotNull ? "NOT NULL" : "nullable")}, not {(notNull ? "NOT NULL" : "nullable")}");
            else if (name == "id" && f.Identity.Length == 0) problems.Add("column id is not an identity column");
        }
        foreach (var extra in byName.Keys) problems.Add($"column {extra} is not a bronze column");
        if (problems.Count > 0)
            throw new BronzeSchemaException($"table {Display} exists with another schema than Ingot's bronze table (DESIGN §5.2): {string.Join("; ", problems)}. "
                + "Ingot never alters an existing table: migrate it, or point table: at a new name");
        return true;
    }

    /// <summary>The months whose partitions exist (read at run start; months made later are added as they are made).</summary>
    public async Task LoadPartitionsAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        if (Partitioning != BronzePartitioning.Monthly) return;
        foreach (var name in await AttachedAsync(connection, null, cancellationToken).ConfigureAwait(false))
        {
            if (ParseMonth(name) is { } m) _partitions[m] = true;
        }
    }

    /// <summary>The months whose partitions are known to exist now.</summary>
    public HashSet<int> KnownMonths() => [.. _partitions.Keys];

    /// <summary>True when the month's partition is known to exist (so a COPY started now routes its rows).</summary>
    public bool HasPartition(int month) => Partitioning == BronzePartitioning.None || _partitions.ContainsKey(month);

    /// <summary>
    /// Makes the months' partitions exist, in a short transaction of its own on <paramref name="connection"/> (never the
    /// unit's: the unit's COPY must start after they are committed, and its transaction must not hold the DDL lock).
    /// Lock waits are bounded (<c>lock_timeout</c>) and retried a few times.
    /// </summary>
    public async Task EnsurePartitionsAsync(NpgsqlDataSource dataSource, IReadOnlyCollection<int> months, CancellationToken cancellationToken)
    {
        var missing = months.Where(m => !HasPartition(m)).Distinct().Order().ToList();
        if (missing.Count == 0) return;
        const int attempts = 4;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
                await using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
                await Execute(connection, tx, "SET LOCAL lock_timeout = '20s'", cancellationToken).ConfigureAwait(false);
                await LockDdlAsync(connection, tx, Display, cancellationToken).ConfigureAwait(false);
                var attached = (await AttachedAsync(connection, tx, cancellationToken).ConfigureAwait(false)).ToHashSet(StringComparer.Ordinal);
                foreach (var month in missing)
                {
                    var child = PartitionName(Name, month);
                    if (attached.Contains(child)) continue;
                    var qualifiedChild = $"{Quote(Schema)}.{Quote(child)}";
                    await using (var exists = new NpgsqlCommand("SELECT to_regclass($1) IS NOT NULL", connection, tx) { Parameters = { new() { Value = qualifiedChild } } })
                    {
                        if ((bool)(await exists.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!)
                            throw new BronzeSchemaException($"a table {Schema}.{child} exists but is not a partition of {Display}: rename or drop it so that month's partition can be made");
                    }
                    await Execute(connection, tx, $"CREATE TABLE {qualifiedChild} (LIKE {Qualified} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)", cancellationToken).ConfigureAwait(false);
                    await Execute(connection, tx, $"ALTER TABLE {Qualified} ATTACH PARTITION {qualifiedChild} FOR VALUES FROM ('{FirstDay(month)}') TO ('{FirstDay(month + 1)}')", cancellationToken).ConfigureAwait(false);
                }
                await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
                foreach (var month in missing) _partitions[month] = true;
                return;
            }
            catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.LockNotAvailable or PostgresErrorCodes.DeadlockDetected && attempt < attempts)
            {
                // Someone holds the parent (a long-running ALTER or VACUUM FULL): wait a little and try again.
                await Task.Delay(TimeSpan.FromMilliseconds(200 * attempt), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task<List<string>> AttachedAsync(NpgsqlConnection connection, NpgsqlTransaction? tx, CancellationToken cancellationToken)
    {
        var names = new List<string>();
        await using var cmd = new NpgsqlCommand(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass($1)", connection, tx) { Parameters = { new() { Value = Qualified } } };
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false)) names.Add(reader.GetString(0));
        return names;
    }

    private int? ParseMonth(string partition)
    {
        var prefix = Name + "_y";
        if (!partition.StartsWith(prefix, StringComparison.Ordinal) || partition.Length != prefix.Length + 7 || partition[prefix.Length + 4] != 'm') return null;
        var span = partition.AsSpan(prefix.Length);
        return int.TryParse(span[..4], NumberStyles.None, CultureInfo.InvariantCulture, out var y) && int.TryParse(span[5..], NumberStyles.None, CultureInfo.InvariantCulture, out var m) && m is >= 1 and <= 12
            ? y * 12 + m - 1
            : null;
    }

    internal static async Task Execute(NpgsqlConnection connection, NpgsqlTransaction? tx, string sql, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand(sql, connection, tx);
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>An existing table or partition is not what Ingot would have made: refused, never altered (exit 2 at run start).</summary>
internal sealed class BronzeSchemaException(string message) : InvalidOperationException(message);
