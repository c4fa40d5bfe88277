using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ingot.State;

/// <summary>
/// The checkpoints in the seed's <c>checkpoints.json</c> shape (DESIGN §6), for <c>ingot status --checkpoints</c> and
/// <c>state_export</c>: one object per stream with <c>last_sync_timestamp</c> (the checkpoint), <c>record_count</c>
/// (records landed by its last run) and <c>updated_at</c> (when the checkpoint last moved), streams in name order.
/// </summary>
public static class CheckpointsFile
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static string Render(IEnumerable<Watermark> marks)
    {
        var root = new JsonObject();
        foreach (var m in marks.OrderBy(m => m.Stream, StringComparer.Ordinal))
        {
            root[m.Stream] = new JsonObject
            {
                ["last_sync_timestamp"] = m.Value,
                ["record_count"] = m.RecordCount,
                ["updated_at"] = m.UpdatedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
            };
        }
        return root.ToJsonString(Indented);
    }
}
