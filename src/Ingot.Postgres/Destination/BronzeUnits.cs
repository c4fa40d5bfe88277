using Ingot.Destinations;
using Ingot.Sources;
using Npgsql;
using NpgsqlTypes;

namespace Ingot.Postgres.Destination;

/// <summary>
/// <c>ingot_units</c>, next to the bronze tables in their schema: one row per unit a pipeline landed into a table, written
/// in the unit's own transaction with its rows — the destination's own record of what it holds (the lake-state check,
/// <c>ingot state rebuild</c>, <c>ingot verify</c>). A unit's rows are those of its <c>_chunk_key</c> and the run recorded
/// here: a table may be shared by pipelines, and the run id tells this pipeline's rows from another's with the same key.
/// </summary>
internal static class BronzeUnits
{
    public const string TableName = "ingot_units";

    public static string Qualified(string schema) => $"{BronzeTable.Quote(schema)}.{BronzeTable.Quote(TableName)}";

    public static async Task EnsureAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string schema, CancellationToken cancellationToken)
    {
        await BronzeTable.LockDdlAsync(connection, tx, $"{schema}.{TableName}", cancellationToken).ConfigureAwait(false);
        await using (var cmd = new NpgsqlCommand("SELECT to_regclass($1) IS NOT NULL", connection, tx) { Parameters = { new() { Value = Qualified(schema) } } })
        {
            if ((bool)(await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!) return;
        }
        await BronzeTable.Execute(connection, tx, $"""
            CREATE TABLE {Qualified(schema)} (
              pipeline text NOT NULL,
              table_name text NOT NULL,
              chunk_key text NOT NULL,
              stream text NOT NULL,
              run_id uuid NOT NULL,
              source_system text NOT NULL,
              identity text,
              bounds text,
              rows bigint NOT NULL,
              first_partition date,
              last_partition date,
              checkpoint text,
              committed_at timestamptz NOT NULL,
              PRIMARY KEY (pipeline, table_name, chunk_key))
            """, cancellationToken).ConfigureAwait(false);
    }

    public static async Task<bool> ExistsAsync(NpgsqlConnection connection, string schema, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand("SELECT to_regclass($1) IS NOT NULL", connection) { Parameters = { new() { Value = Qualified(schema) } } };
        return (bool)(await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    /// <summary>A landed unit as recorded: which run's rows are its, and the partition keys they span (to prune the delete).</summary>
    public sealed record Entry(string Key, Guid RunId, DateOnly? First, DateOnly? Last);

    /// <summary>The recorded units among <paramref name="keys"/>, locked for this transaction (a concurrent writer of the same unit waits).</summary>
    public static async Task<List<Entry>> LockAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string schema, string pipeline, string table, IReadOnlyList<string> keys, CancellationToken cancellationToken)
    {
        var entries = new List<Entry>();
        await using var cmd = new NpgsqlCommand(
            $"SELECT chunk_key, run_id, first_partition, last_partition FROM {Qualified(schema)} WHERE pipeline = $1 AND table_name = $2 AND chunk_key = ANY($3) FOR UPDATE", connection, tx)
        {
            Parameters = { new() { Value = pipeline }, new() { Value = table }, new() { Value = keys.ToArray() } },
        };
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            entries.Add(new Entry(reader.GetString(0), reader.GetGuid(1),
                reader.IsDBNull(2) ? null : reader.GetFieldValue<DateOnly>(2), reader.IsDBNull(3) ? null : reader.GetFieldValue<DateOnly>(3)));
        }
        return entries;
    }

    public static async Task DeleteAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string schema, string pipeline, string table, IReadOnlyList<string> keys, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand($"DELETE FROM {Qualified(schema)} WHERE pipeline = $1 AND table_name = $2 AND chunk_key = ANY($3)", connection, tx)
        {
            Parameters = { new() { Value = pipeline }, new() { Value = table }, new() { Value = keys.ToArray() } },
        };
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <param name="Checkpoint">The checkpoint the unit carried its cursor stream to (kept so state rebuild can restore it).</param>
    public sealed record Landed(string Pipeline, string Table, WorkUnit Unit, Guid RunId, long Rows, DateOnly? First, DateOnly? Last, DateTimeOffset CommittedAt, string? Checkpoint);

    public static async Task RecordAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string schema, Landed landed, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand($"""
            INSERT INTO {Qualified(schema)} (pipeline, table_name, chunk_key, stream, run_id, source_system, identity, bounds, rows, first_partition, last_partition, committed_at, checkpoint)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
            ON CONFLICT (pipeline, table_name, chunk_key) DO UPDATE SET stream = EXCLUDED.stream, run_id = EXCLUDED.run_id, source_system = EXCLUDED.source_system,
              identity = EXCLUDED.identity, bounds = EXCLUDED.bounds, rows = EXCLUDED.rows, first_partition = EXCLUDED.first_partition,
              last_partition = EXCLUDED.last_partition, committed_at = EXCLUDED.committed_at, checkpoint = EXCLUDED.checkpoint
            """, connection, tx)
        {
            Parameters =
            {
                new() { Value = landed.Pipeline }, new() { Value = landed.Table }, new() { Value = landed.Unit.Key }, new() { Value = landed.Unit.Stream },
                new() { Value = landed.RunId }, new() { Value = landed.Unit.SourceSystem }, new() { Value = landed.Unit.Identity.Text }, new() { Value = landed.Unit.Bounds.ToJson() },
                new() { Value = landed.Rows },
                new() { Value = (object?)landed.First ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Date },
                new() { Value = (object?)landed.Last ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Date },
                new() { Value = landed.CommittedAt.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz },
                new() { Value = (object?)landed.Checkpoint ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text },
            },
        };
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The units a pipeline holds in a table; with <paramref name="count"/>, each with the rows the table really has for it.</summary>
    public static async IAsyncEnumerable<(string Key, string Stream, Guid RunId, string? Identity, string? Bounds, long Rows, string? Checkpoint)> ListAsync(
        NpgsqlConnection connection, string schema, string pipeline, BronzeTable table, bool count, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var rows = count
            ? $"""
              (SELECT count(*) FROM {table.Qualified} t WHERE t._chunk_key = u.chunk_key AND t.pipeline_run_id = u.run_id
                 AND (u.first_partition IS NULL OR t.partition_key BETWEEN u.first_partition AND u.last_partition))
              """
            : "u.rows";
        await using var cmd = new NpgsqlCommand(
            $"SELECT u.chunk_key, u.stream, u.run_id, u.identity, u.bounds, {rows}, u.checkpoint FROM {Qualified(schema)} u WHERE u.pipeline = $1 AND u.table_name = $2 ORDER BY u.chunk_key", connection)
        {
            Parameters = { new() { Value = pipeline }, new() { Value = table.Name } },
            CommandTimeout = 0,
        };
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return (reader.GetString(0), reader.GetString(1), reader.GetGuid(2), reader.IsDBNull(3) ? null : reader.GetString(3),
                reader.IsDBNull(4) ? null : reader.GetString(4), reader.GetInt64(5), reader.IsDBNull(6) ? null : reader.GetString(6));
        }
    }
}
