namespace Ingot.Storage;

/// <summary>
/// The preflight of a file destination: writes a small file under <c>&lt;prefix&gt;/_tmp/</c> the way data is written
/// (atomically), reads it back, and removes it again with the folders it made — so a lake that cannot be written (a full
/// disk, no permission, a path under a regular file) is found before any request, and a lake that can is left as it was.
/// </summary>
public static class StoreProbe
{
    public static async Task ProbeAsync(IBlobStore store, string prefix, CancellationToken cancellationToken)
    {
        var path = $"{prefix.TrimEnd('/')}/_tmp/probe-{Guid.NewGuid():N}";
        var content = "ingot preflight probe\n"u8.ToArray();
        try
        {
            if (store is LocalBlobStore local && FileOnTheWay(local.FullPath(path)) is { } file)
                throw new IOException($"{file} is a file, not a folder: a lake cannot be made under it", 20 /* ENOTDIR */);
            await store.WriteAsync(path, content, cancellationToken).ConfigureAwait(false);
            var back = await store.OpenReadAsync(path, cancellationToken).ConfigureAwait(false)
                ?? throw new IOException($"{store.Root}: a probe file written under {path} cannot be read back");
            await back.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            await store.DeleteAsync(path, CancellationToken.None).ConfigureAwait(false);
            // The probe's own _tmp folder goes too, once empty.
            await store.RemoveStaleTempsAsync($"{prefix.TrimEnd('/')}/_tmp", CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>The nearest existing ancestor of <paramref name="fullPath"/> when it is a regular file, else null.</summary>
    private static string? FileOnTheWay(string fullPath)
    {
        for (var dir = Path.GetDirectoryName(fullPath); !string.IsNullOrEmpty(dir); dir = Path.GetDirectoryName(dir))
        {
            if (Directory.Exists(dir)) return null;
            if (File.Exists(dir)) return dir;
        }
        return null;
    }
}
