using System.Globalization;
using Npgsql;

namespace Ingot.Postgres.Source;

/// <summary>
/// The time below which every cursor value is certainly committed, taken at plan time: the earliest start of a
/// transaction still open in this database (<c>pg_stat_activity.xact_start</c>, prepared transactions by their
/// <c>prepared</c> time), or now, less a second.
/// <para>
/// Why a fence on the cursor and not <c>pg_current_snapshot()</c> with <c>pg_visible_in_snapshot(xmin, …)</c>
/// (notes/sources.md): a snapshot lists only top-level transaction ids, while a row written inside a savepoint carries
/// its subtransaction's id, which the test then calls visible although its transaction was still open — the row would be
/// judged "landed before" and never land; <c>xmin</c> is 32 bits (an epoch guess near wraparound, raw ids kept after a
/// freeze); and finding the rows that committed late means scanning the whole table by <c>xmin</c>, since nothing
/// indexes it. The fence needs none of that: a run reads only <c>cursor &lt; fence</c>, by the <c>(cursor, key)</c>
/// index, and a transaction still open cannot add a row below the fence as long as it writes cursor values no older
/// than its own start — true for <c>now()</c>, <c>CURRENT_TIMESTAMP</c>, <c>clock_timestamp()</c> and triggers setting
/// them; an application clock that writes a moment before its transaction began is what <c>lookback</c> is for.
/// </para>
/// Where it fails (said, not hidden): a long-open transaction holds the fence at its start, so rows after it wait for a
/// later run (the plan's scope names the session); a role that cannot see other roles' sessions cannot fence, and the
/// plan refuses with the grant to give (<c>pg_read_all_stats</c>); a prepared transaction is fenced at the time it was
/// prepared, its start being unknown. The extra second covers the moment between a transaction taking its start time
/// and publishing it in <c>pg_stat_activity</c>.
/// </summary>
internal sealed record CommitFence(DateTimeOffset At, string? HeldBy)
{
    public static readonly TimeSpan Margin = TimeSpan.FromSeconds(1);

    /// <summary>The fence as canonical UTC text with microseconds (the chain id of a plan, the full read's stamp).</summary>
    public string Text => At.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    public static async Task<CommitFence> TakeAsync(NpgsqlConnection conn, string role, CancellationToken cancellationToken)
    {
        const string sql = """
            SELECT clock_timestamp(),
                   (SELECT count(*) FROM pg_stat_activity
                     WHERE pid <> pg_backend_pid() AND datname = current_database()
                       AND query = '<insufficient privilege>'),
                   a.pid, a.xact_start, a.application_name,
                   (SELECT min(prepared) FROM pg_prepared_xacts WHERE database = current_database())
              FROM (SELECT 1) one
              LEFT JOIN LATERAL (
                    SELECT pid, xact_start, application_name FROM pg_stat_activity
                     WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL
                       AND backend_type IN ('client backend', 'background worker')
                     ORDER BY xact_start LIMIT 1) a ON true
            """;
        await using var cmd = new NpgsqlCommand(sql, conn);
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        var now = new DateTimeOffset(reader.GetFieldValue<DateTime>(0), TimeSpan.Zero);
        var hidden = reader.GetInt64(1);
        if (hidden > 0)
            throw new Config.ConfigException(
                $"PostgreSQL role {role} cannot see {hidden} other session(s) of this database in pg_stat_activity, so the source cannot tell which rows are " +
                $"certainly committed (a transaction still open could add rows behind the checkpoint). Grant it: GRANT pg_read_all_stats TO {role};");
        var fence = now - Margin;
        string? heldBy = null;
        if (!reader.IsDBNull(3))
        {
            var start = new DateTimeOffset(reader.GetFieldValue<DateTime>(3), TimeSpan.Zero) - Margin;
            if (start < fence)
            {
                fence = start;
                var app = reader.IsDBNull(4) ? "" : reader.GetString(4);
                heldBy = $"a transaction open since {start + Margin:O} (pid {reader.GetInt32(2)}{(app.Length > 0 ? $", {app}" : "")}); rows changed after it land in a later run";
            }
        }
        if (!reader.IsDBNull(5))
        {
            var prepared = new DateTimeOffset(reader.GetFieldValue<DateTime>(5), TimeSpan.Zero) - Margin;
            if (prepared < fence)
            {
                fence = prepared;
                heldBy = $"a prepared transaction (since {prepared + Margin:O}); rows changed after it land in a later run";
            }
        }
        // Microseconds, as PostgreSQL keeps them: the fence text must mean exactly this instant when read back.
        fence = new DateTimeOffset(fence.UtcTicks - fence.UtcTicks % 10, TimeSpan.Zero);
        return new CommitFence(fence, heldBy);
    }
}
