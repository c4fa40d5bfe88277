using System.Text;
using Ingot.Storage;

namespace Ingot.Tests.Core.Storage;

public sealed class LocalBlobStoreTests : IDisposable
{
    private static readonly CancellationToken Ct = CancellationToken.None;
    private readonly string _root = Directory.CreateTempSubdirectory("ingot-blob-").FullName;
    private readonly string _elsewhere = Directory.CreateTempSubdirectory("ingot-scratch-").FullName;
    private readonly LocalBlobStore _store;

    public LocalBlobStoreTests() => _store = new LocalBlobStore(_root);

    public void Dispose()
    {
        Directory.Delete(_root, recursive: true);
        Directory.Delete(_elsewhere, recursive: true);
    }

    private string[] AllFiles() =>
        Directory.EnumerateFiles(_root, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(_root, f).Replace('\\', '/')).Order().ToArray();

    private void Touch(string relative)
    {
        var full = _store.FullPath(relative);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllText(full, relative);
    }

    [Fact]
    public async Task WriteAsync_NewPath_WritesBytesInNestedFolders()
    {
        // Given
        var bytes = new byte[] { 0, 1, 2, 255 };

        // When
        await _store.WriteAsync("p/raw/obs/2020/a.json", bytes, Ct);

        // Then
        File.ReadAllBytes(Path.Combine(_root, "p", "raw", "obs", "2020", "a.json")).ShouldBe(bytes);
        AllFiles().ShouldBe(["p/raw/obs/2020/a.json"]);
    }

    [Fact]
    public async Task WriteAsync_ExistingPath_ReplacesAndLeavesNoTemp()
    {
        // Given
        await _store.WriteAsync("a.json", Encoding.UTF8.GetBytes("first, and longer"), Ct);

        // When
        await _store.WriteAsync("a.json", Encoding.UTF8.GetBytes("second"), Ct);

        // Then
        File.ReadAllText(_store.FullPath("a.json")).ShouldBe("second");
        AllFiles().ShouldBe(["a.json"]);
        AllFiles().ShouldNotContain(f => f.Contains(LocalBlobStore.TempPrefix));
    }

    [Fact]
    public async Task WriteAsync_Cancelled_LeavesNeitherFileNorTemp()
    {
        // Given
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        // When
        await Should.ThrowAsync<OperationCanceledException>(() => _store.WriteAsync("d/a.json", new byte[10], cts.Token));

        // Then
        AllFiles().ShouldBeEmpty();
    }

    [Fact]
    public async Task PutFileAsync_FromAnotherFolder_MovesAndConsumesLocalFile()
    {
        // Given
        var local = Path.Combine(_elsewhere, "part-0.parquet");
        File.WriteAllText(local, "parquet bytes");

        // When
        await _store.PutFileAsync("p/obs/part-0.parquet", local, Ct);

        // Then
        File.Exists(local).ShouldBeFalse();
        File.ReadAllText(_store.FullPath("p/obs/part-0.parquet")).ShouldBe("parquet bytes");
        AllFiles().ShouldBe(["p/obs/part-0.parquet"]);
    }

    [Fact]
    public async Task PutFileAsync_FromAnotherDevice_CopiesReplacesExistingAndConsumesLocalFile()
    {
        // Given a file on another filesystem (tmpfs; rename(2) fails with EXDEV) and an older version at the target
        Assert.SkipUnless(Directory.Exists("/dev/shm") && DeviceOf("/dev/shm") != DeviceOf(_store.Root), "no second filesystem to copy from");
        await _store.WriteAsync("p/obs/part-0.parquet", Encoding.UTF8.GetBytes("old"), Ct);
        var local = Path.Combine("/dev/shm", $"ingot-test-{Guid.NewGuid():N}.parquet");
        File.WriteAllText(local, "parquet bytes");

        // When
        await _store.PutFileAsync("p/obs/part-0.parquet", local, Ct);

        // Then the copy took the target's name, no temp name is left, and the local file is gone
        File.Exists(local).ShouldBeFalse();
        File.ReadAllText(_store.FullPath("p/obs/part-0.parquet")).ShouldBe("parquet bytes");
        AllFiles().ShouldBe(["p/obs/part-0.parquet"]);
    }

    private static ulong DeviceOf(string path) =>
        ulong.Parse(System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("stat", ["-c", "%d", path]) { RedirectStandardOutput = true })!
            .StandardOutput.ReadToEnd().Trim(), System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public async Task PutFileAsync_FromScratchFolder_ReplacesExisting()
    {
        // Given
        await _store.WriteAsync("p/obs/part-0.parquet", Encoding.UTF8.GetBytes("old"), Ct);
        var scratch = _store.LocalScratchFor("p/obs/part-0.parquet");
        var local = Path.Combine(scratch, $"{LocalBlobStore.TempPrefix}part-0.parquet");
        File.WriteAllText(local, "new");

        // When
        await _store.PutFileAsync("p/obs/part-0.parquet", local, Ct);

        // Then
        scratch.ShouldBe(Path.GetDirectoryName(_store.FullPath("p/obs/part-0.parquet")));
        File.ReadAllText(_store.FullPath("p/obs/part-0.parquet")).ShouldBe("new");
        AllFiles().ShouldBe(["p/obs/part-0.parquet"]);
    }

    [Fact]
    public async Task OpenReadAsync_ExistingAndMissing_ReturnsStreamOrNull()
    {
        // Given
        await _store.WriteAsync("a.json", Encoding.UTF8.GetBytes("{}"), Ct);

        // When
        await using var stream = await _store.OpenReadAsync("a.json", Ct);
        var missing = await _store.OpenReadAsync("b.json", Ct);

        // Then
        using var reader = new StreamReader(stream.ShouldNotBeNull());
        (await reader.ReadToEndAsync(Ct)).ShouldBe("{}");
        missing.ShouldBeNull();
    }

    [Fact]
    public async Task ListAsync_Prefix_ListsFilesRecursivelyWithSlashesAndLengths()
    {
        // Given
        await _store.WriteAsync("p/raw/a.json", new byte[3], Ct);
        await _store.WriteAsync("p/raw/2020/b.json", new byte[5], Ct);
        await _store.WriteAsync("q/c.json", new byte[1], Ct);

        // When
        var listed = new List<BlobInfo>();
        await foreach (var blob in _store.ListAsync("p", Ct)) listed.Add(blob);

        // Then
        listed.ShouldAllBe(b => b.LastModified != null && b.LastModified > DateTimeOffset.UtcNow.AddMinutes(-5));
        listed.Select(b => b with { LastModified = null }).OrderBy(b => b.Path, StringComparer.Ordinal).ShouldBe([new BlobInfo("p/raw/2020/b.json", 5), new BlobInfo("p/raw/a.json", 3)]);
    }

    [Fact]
    public async Task ListAsync_MissingPrefix_IsEmpty()
    {
        // When
        var listed = new List<BlobInfo>();
        await foreach (var blob in _store.ListAsync("nothing/here", Ct)) listed.Add(blob);

        // Then
        listed.ShouldBeEmpty();
    }

    [Fact]
    public async Task DeleteAsync_ExistingFile_RemovesIt()
    {
        // Given
        await _store.WriteAsync("a.json", new byte[1], Ct);

        // When
        await _store.DeleteAsync("a.json", Ct);

        // Then
        AllFiles().ShouldBeEmpty();
    }

    [Fact]
    public async Task DeleteAsync_MissingFileOrFolder_DoesNotThrow()
    {
        // When / Then
        await Should.NotThrowAsync(() => _store.DeleteAsync("no/such/file.json", Ct));
        AllFiles().ShouldBeEmpty();
    }

    [Fact]
    public async Task RemoveStaleTempsAsync_MixedFiles_RemovesOnlyTemps()
    {
        // Given
        string[] temps = ["p/raw/_tmp_a.json.0123", "p/_tmp/part.parquet", "p/obs/_tmp/deep/x.parquet", "p/_tmp_"];
        string[] kept = ["p/raw/a.json", "p/raw/not_tmp_.json", "p/raw/x_tmp_y", "p/my_tmp/b.json", "p/raw/tmp_c.json", "q/_tmp_other"];
        foreach (var f in temps.Concat(kept)) Touch(f);

        // When
        var removed = await _store.RemoveStaleTempsAsync("p", Ct);

        // Then
        removed.ShouldBe(temps.Length);
        AllFiles().ShouldBe(kept.Order().ToArray());
    }

    [Fact]
    public async Task RemoveStaleTempsAsync_MissingPrefix_ReturnsZero()
    {
        // When
        var removed = await _store.RemoveStaleTempsAsync("nothing", Ct);

        // Then
        removed.ShouldBe(0);
    }

    [Theory]
    [InlineData("_tmp_a.json", true)]
    [InlineData("p/raw/_tmp_a.json.abc", true)]
    [InlineData("_tmp/a.json", true)]
    [InlineData("p/_tmp/a.json", true)]
    [InlineData("p/raw/a.json", false)]
    [InlineData("p/raw/a_tmp_.json", false)]
    [InlineData("p/my_tmp/a.json", false)]
    [InlineData("p/_tmpx/a.json", false)]
    public void IsTemp_Path_RecognisesTempNames(string path, bool expected)
    {
        // When
        var temp = LocalBlobStore.IsTemp(path);

        // Then
        temp.ShouldBe(expected);
    }

    [Fact]
    public void Root_AsWritten_IsKept()
    {
        // Given / When
        var store = new LocalBlobStore("./lake");

        // Then
        store.Root.ShouldBe("./lake");
        store.FullPath("a/b.json").ShouldBe(Path.Combine(Path.GetFullPath("./lake"), "a", "b.json"));
    }

    [Fact]
    public void FsyncDirectory_ExistingFolder_Succeeds()
    {
        // A rename is durable only once its folder is synced; .NET's file handles refuse folders, so this must reach libc.
        LocalBlobStore.FsyncDirectory(Path.GetTempPath()).ShouldBeTrue();
        LocalBlobStore.FsyncDirectory(Path.Combine(Path.GetTempPath(), "no-such-folder-" + Guid.NewGuid().ToString("N"))).ShouldBeFalse();
    }
}
