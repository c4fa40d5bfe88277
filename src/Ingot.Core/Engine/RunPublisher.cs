using System.Globalization;
using System.Text;
using Ingot.Config;
using Ingot.State;
using Ingot.Storage;

namespace Ingot.Engine;

/// <summary>
/// What a run publishes outside the lake (DESIGN §4.1, system C): the checkpoints as <c>checkpoints.json</c>
/// (<c>state_export</c>), written atomically after the run's last state commit, and the run's JSON log
/// (<c>log_upload</c>), one object per run. Both go through the same blob stores as the lake (local or S3).
/// </summary>
public static class RunPublisher
{
    /// <summary>Writes <c>checkpoints.json</c> in one atomic put (a reader sees the old file or the new one, never half).</summary>
    public static async Task ExportStateAsync(PipelineSpec spec, IStateStore state, BlobStores stores, CancellationToken cancellationToken)
    {
        if (spec.StateExport is not { } target) return;
        var marks = await state.GetWatermarksAsync(spec.Name, cancellationToken).ConfigureAwait(false);
        var (root, name) = Split(target.Path);
        var store = stores.Open(root, target.Store);
        await store.WriteAsync(name, Encoding.UTF8.GetBytes(CheckpointsFile.Render(marks) + "\n"), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The object a run's log goes to under <c>log_upload</c>: <c>&lt;pipeline&gt;/&lt;yyyy-MM-dd&gt;/&lt;run id&gt;.jsonl</c>.</summary>
    public static string LogObject(string pipeline, Guid runId, DateTimeOffset startedAt) =>
        $"{pipeline}/{startedAt.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)}/{runId}.jsonl";

    /// <summary>Puts the run's log file (already redacted line by line) under the <c>log_upload</c> prefix.</summary>
    public static async Task UploadLogAsync(PipelineSpec spec, string runLog, Guid runId, DateTimeOffset startedAt, BlobStores stores, CancellationToken cancellationToken)
    {
        if (spec.LogUpload is not { } target || !File.Exists(runLog)) return;
        byte[] bytes;
        await using (var file = new FileStream(runLog, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
        {
            using var buffer = new MemoryStream();
            await file.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
            bytes = buffer.ToArray();
        }
        var store = stores.Open(target.Path.TrimEnd('/'), target.Store);
        await store.WriteAsync(LogObject(spec.Name, runId, startedAt), bytes, cancellationToken).ConfigureAwait(false);
    }

    private static (string Root, string Name) Split(string path)
    {
        var slash = path.LastIndexOf('/');
        if (slash <= 0 || slash == path.Length - 1) throw new ConfigException($"state_export: '{path}' is not a file path");
        var root = path[..slash];
        if (root.EndsWith(':')) throw new ConfigException($"state_export: '{path}' names no folder or bucket"); // s3:/x
        return (root, path[(slash + 1)..]);
    }
}
