namespace Ingot.Storage;

/// <summary>Files on a local disk. Atomic by temp name in the same folder, fsync, rename, fsync of the folder.</summary>
public sealed class LocalBlobStore : IBlobStore
{
    public const string TempPrefix = "_tmp_";
    private readonly string _root;

    public LocalBlobStore(string root)
    {
        Root = root;
        _root = Path.GetFullPath(root);
    }

    public string Root { get; }

    public string FullPath(string path) => Path.Combine(_root, path.Replace('/', Path.DirectorySeparatorChar));

    public async Task WriteAsync(string path, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        var target = FullPath(path);
        var dir = Path.GetDirectoryName(target)!;
        Directory.CreateDirectory(dir);
        var temp = Path.Combine(dir, $"{TempPrefix}{Path.GetFileName(target)}.{Guid.NewGuid():N}");
        try
        {
            await using (var fs = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
            {
                await fs.WriteAsync(content, cancellationToken).ConfigureAwait(false);
                fs.Flush(flushToDisk: true);
            }
            File.Move(temp, target, overwrite: true);
            FsyncDirectory(dir);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    public Task PutFileAsync(string path, string localFile, CancellationToken cancellationToken)
    {
        var target = FullPath(path);
        var dir = Path.GetDirectoryName(target)!;
        Directory.CreateDirectory(dir);
        // Make the bytes durable before the name appears.
        using (var fs = new FileStream(localFile, FileMode.Open, FileAccess.ReadWrite))
        {
            fs.Flush(flushToDisk: true);
        }
        var sameDir = string.Equals(Path.GetDirectoryName(Path.GetFullPath(localFile)), dir, StringComparison.Ordinal);
        // On one filesystem the synced file is renamed straight over the target: atomic, and nothing to copy or sync
        // again (a temp name and a second fsync per file only pay across devices, where rename(2) fails with EXDEV).
        if (!sameDir && !OperatingSystem.IsWindows() && Libc.rename(localFile, target) == 0)
        {
            FsyncDirectory(dir);
            return Task.CompletedTask;
        }
        if (!sameDir)
        {
            // Bring the file beside the target under a temp name first: a rename on one filesystem, a copy across devices.
            var temp = Path.Combine(dir, $"{TempPrefix}{Path.GetFileName(target)}.{Guid.NewGuid():N}");
            // (.NET's File.Move copies when the rename crosses devices; the copy is then synced here.)
            File.Move(localFile, temp);
            using (var fs = new FileStream(temp, FileMode.Open, FileAccess.ReadWrite)) fs.Flush(flushToDisk: true);
            localFile = temp;
        }
        File.Move(localFile, target, overwrite: true);
        FsyncDirectory(dir);
        return Task.CompletedTask;
    }

    public Task<Stream?> OpenReadAsync(string path, CancellationToken cancellationToken)
    {
        var full = FullPath(path);
        return Task.FromResult<Stream?>(File.Exists(full) ? new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous) : null);
    }

    public async IAsyncEnumerable<BlobInfo> ListAsync(string prefix, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var start = FullPath(prefix);
        if (!Directory.Exists(start)) yield break;
        foreach (var file in Directory.EnumerateFiles(start, "*", SearchOption.AllDirectories))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var rel = Path.GetRelativePath(_root, file).Replace(Path.DirectorySeparatorChar, '/');
            var info = new FileInfo(file);
            yield return new BlobInfo(rel, info.Length, new DateTimeOffset(info.LastWriteTimeUtc, TimeSpan.Zero));
        }
        await Task.CompletedTask.ConfigureAwait(false);
    }

    public Task DeleteAsync(string path, CancellationToken cancellationToken)
    {
        TryDelete(FullPath(path));
        return Task.CompletedTask;
    }

    public Task<int> RemoveStaleTempsAsync(string prefix, CancellationToken cancellationToken)
    {
        var start = FullPath(prefix);
        var removed = 0;
        if (!Directory.Exists(start)) return Task.FromResult(0);
        foreach (var file in Directory.EnumerateFiles(start, "*", SearchOption.AllDirectories))
        {
            var rel = Path.GetRelativePath(_root, file).Replace(Path.DirectorySeparatorChar, '/');
            if (IsTemp(rel))
            {
                TryDelete(file);
                removed++;
            }
        }
        // Then the folders a crashed run's scratch left empty (_tmp/<guid>/…), deepest first, and _tmp itself when empty.
        var folders = Directory.EnumerateDirectories(start, "*", SearchOption.AllDirectories).Append(start)
            .OrderByDescending(d => d.Length).ToList();
        foreach (var dir in folders)
        {
            var rel = Path.GetRelativePath(_root, dir).Replace(Path.DirectorySeparatorChar, '/') + "/";
            if (!IsTempFolder(rel)) continue;
            try
            {
                if (!Directory.EnumerateFileSystemEntries(dir).Any()) Directory.Delete(dir);
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return Task.FromResult(removed);
    }

    public string LocalScratchFor(string path)
    {
        // Same folder as the target, so the final rename never crosses a device.
        var dir = Path.GetDirectoryName(FullPath(path))!;
        Directory.CreateDirectory(dir);
        return dir;
    }

    public static bool IsTemp(string relativePath) =>
        Path.GetFileName(relativePath).StartsWith(TempPrefix, StringComparison.Ordinal)
        || relativePath.StartsWith("_tmp/", StringComparison.Ordinal)
        || relativePath.Contains("/_tmp/", StringComparison.Ordinal);

    /// <summary>A folder path (ending in '/') at or under a <c>_tmp</c> folder.</summary>
    private static bool IsTempFolder(string relativeFolder) =>
        relativeFolder.StartsWith("_tmp/", StringComparison.Ordinal) || relativeFolder.Contains("/_tmp/", StringComparison.Ordinal);

    private static void TryDelete(string file)
    {
        try { File.Delete(file); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>
    /// fsync of the folder, so a rename is durable before the chunk commits. .NET cannot open a directory as a
    /// file handle, so this goes to libc; false where that is not possible (then only the file itself was synced).
    /// </summary>
    internal static bool FsyncDirectory(string dir)
    {
        if (OperatingSystem.IsWindows()) return false;
        var fd = Libc.open(dir, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC);
        if (fd < 0) return false;
        try
        {
            return Libc.fsync(fd) == 0;
        }
        finally
        {
            _ = Libc.close(fd);
        }
    }
}

internal static partial class Libc
{
    public const int O_RDONLY = 0;
    public const int O_DIRECTORY = 0x10000; // Linux x86_64 and arm64
    public const int O_CLOEXEC = 0x80000;

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "open", StringMarshalling = System.Runtime.InteropServices.StringMarshalling.Utf8, SetLastError = true)]
    public static partial int open(string path, int flags);

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    public static partial int fsync(int fd);

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "rename", StringMarshalling = System.Runtime.InteropServices.StringMarshalling.Utf8, SetLastError = true)]
    public static partial int rename(string from, string to);

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "close")]
    public static partial int close(int fd);
}
/// <summary>Opens local folders; other openers (S3) are registered by the composition root.</summary>
public sealed class BlobStores(IEnumerable<IBlobStoreOpener> openers)
{
    private readonly IBlobStoreOpener[] _openers = openers.ToArray();

    public IBlobStore Open(string root, StoreOptions options)
    {
        foreach (var opener in _openers)
        {
            if (opener.CanOpen(root)) return opener.Open(root, options);
        }
        if (root.Contains("://", StringComparison.Ordinal))
            throw new InvalidOperationException($"no store can open '{root}' (supported: local folders, s3://bucket/prefix)");
        return new LocalBlobStore(root);
    }
}
