// Over ~400 lines on purpose: every S3 operation the lake needs (atomic put, hand-made multipart upload — s3rver needs
// UseChunkEncoding=false, which TransferUtility cannot do —, listing, ranged reads) with one error mapping.
using System.Net;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Amazon.S3;
using Amazon.S3.Model;
using Ingot.Storage;

namespace Ingot.S3;

/// <summary>
/// Files in an S3 bucket under <c>s3://bucket/prefix</c>. An object appears only complete: one PUT, or a
/// multipart upload that is completed — never a temp key that is copied afterwards. A failed or cancelled
/// multipart upload is aborted, so nothing partial is ever visible under any key.
/// </summary>
internal sealed class S3BlobStore : IBlobStore, IDisposable
{
    /// <summary>Files up to this size go up in one PUT; larger ones as a multipart upload.</summary>
    public const long SinglePutLimit = 16L * 1024 * 1024;

    /// <summary>Default multipart part size (S3 minimum is 5 MiB, maximum 10 000 parts).</summary>
    public const int DefaultPartSize = 16 * 1024 * 1024;

    private const int MaxParts = 10_000;
    private static readonly TimeSpan AbortTimeout = TimeSpan.FromSeconds(30);

    private readonly IAmazonS3 _client;
    private readonly S3Location _location;
    private readonly S3Settings _settings;
    private readonly string _scratchRoot;
    private int _multipartListingUnsupported;

    public S3BlobStore(string root, StoreOptions options)
        : this(root, S3Settings.Resolve(options, Environment.GetEnvironmentVariable))
    {
    }

    internal S3BlobStore(string root, S3Settings settings)
    {
        Root = root;
        _location = S3Location.Parse(root);
        _settings = settings;
        try
        {
            _client = settings.CreateClient();
        }
        catch (Amazon.Runtime.AmazonClientException e)
        {
            // No region, endpoint or credentials anywhere (destination, AWS_* variables, ~/.aws): a configuration error.
            throw new Config.ConfigException($"{root}: the S3 client cannot be configured ({e.Message}): set region: (or endpoint: for an S3-compatible server) on the destination, or AWS_REGION / AWS_ENDPOINT_URL_S3");
        }
        var rootHash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{_location.Bucket}/{_location.Prefix}")))[..16];
        // Per store instance: two runs on one machine never share scratch files; Dispose removes it.
        _scratchRoot = Path.Combine(Path.GetTempPath(), "ingot-s3-scratch", rootHash, Guid.NewGuid().ToString("N")[..12]);
    }

    public string Root { get; }

    public string Bucket => _location.Bucket;

    /// <summary>The key prefix under the bucket: "" or ending with '/'.</summary>
    public string Prefix => _location.Prefix;

    /// <summary>Part size for multipart uploads; tests lower it to exercise several parts cheaply.</summary>
    internal int PartSize { get; init; } = DefaultPartSize;

    /// <summary>Page size for listings (S3 caps it at 1000); tests lower it to show paging.</summary>
    internal int ListPageSize { get; init; } = 1000;

    /// <summary>Test seam: awaited after each uploaded part with its number (fault injection, visibility checks).</summary>
    internal Func<int, Task>? PartUploaded { get; init; }

    /// <summary>True once the server answered ListMultipartUploads with NotImplemented (s3rver 3.7 does).</summary>
    internal bool MultipartListingUnsupported => Volatile.Read(ref _multipartListingUnsupported) != 0;

    /// <summary>How many abort calls the server rejected (s3rver 3.7 has no AbortMultipartUpload); the object never appeared anyway.</summary>
    internal int FailedAborts => Volatile.Read(ref _failedAborts);
    private int _failedAborts;

    public async Task WriteAsync(string path, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        var key = _location.KeyFor(path);
        var md5 = MD5.HashData(content.Span);
        // The SDK needs a seekable stream (it may resend on retry); wrap the array without copying when possible.
        await using var stream = MemoryMarshal.TryGetArray(content, out var segment)
            ? new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false)
            : new MemoryStream(content.ToArray(), writable: false);
        await PutSingleAsync(key, stream, md5, cancellationToken).ConfigureAwait(false);
    }

    public async Task PutFileAsync(string path, string localFile, CancellationToken cancellationToken)
    {
        var key = _location.KeyFor(path);
        var length = new FileInfo(localFile).Length;
        if (length <= SinglePutLimit)
        {
            await using var fs = new FileStream(localFile, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous);
            var md5 = await MD5.HashDataAsync(fs, cancellationToken).ConfigureAwait(false);
            fs.Position = 0;
            await PutSingleAsync(key, fs, md5, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await PutMultipartAsync(key, localFile, length, cancellationToken).ConfigureAwait(false);
        }
        // Consumed only on success: after a failure the caller may retry with the same file.
        File.Delete(localFile);
    }

    public async Task<Stream?> OpenReadAsync(string path, CancellationToken cancellationToken)
    {
        var key = _location.KeyFor(path);
        GetObjectResponse response;
        try
        {
            response = await _client.GetObjectAsync(new GetObjectRequest { BucketName = Bucket, Key = key }, cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound && ex.ErrorCode is "NoSuchKey" or "NotFound" or null)
        {
            return null;
        }
        catch (Exception ex) when (S3Errors.ShouldWrap(ex, cancellationToken))
        {
            throw S3Errors.Wrap(ex, "GetObject", Bucket, key, _settings);
        }
        return new S3ReadStream(response, ex => S3Errors.Wrap(ex, "GetObject (body)", Bucket, key, _settings));
    }

    public async IAsyncEnumerable<BlobInfo> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var obj in ListObjectsAsync(_location.FolderKey(prefix), cancellationToken).ConfigureAwait(false))
        {
            yield return new BlobInfo(_location.RelativePath(obj.Key), obj.Size ?? 0,
                obj.LastModified is { } modified ? new DateTimeOffset(DateTime.SpecifyKind(modified.ToUniversalTime(), DateTimeKind.Utc)) : null);
        }
    }

    public async Task DeleteAsync(string path, CancellationToken cancellationToken)
    {
        var key = _location.KeyFor(path);
        try
        {
            // S3 answers 204 for a missing key as well.
            await _client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = Bucket, Key = key }, cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound && ex.ErrorCode is "NoSuchKey" or null)
        {
        }
        catch (Exception ex) when (S3Errors.ShouldWrap(ex, cancellationToken))
        {
            throw S3Errors.Wrap(ex, "DeleteObject", Bucket, key, _settings);
        }
    }

    public async Task<int> RemoveStaleTempsAsync(string prefix, CancellationToken cancellationToken)
    {
        var folder = _location.FolderKey(prefix);
        var stale = new List<string>();
        await foreach (var obj in ListObjectsAsync(folder, cancellationToken).ConfigureAwait(false))
        {
            if (LocalBlobStore.IsTemp(_location.RelativePath(obj.Key))) stale.Add(obj.Key);
        }
        var removed = 0;
        foreach (var batch in stale.Chunk(1000))
        {
            removed += await DeleteBatchAsync(batch, cancellationToken).ConfigureAwait(false);
        }
        removed += await AbortStaleUploadsAsync(folder, cancellationToken).ConfigureAwait(false);
        return removed;
    }

    public string LocalScratchFor(string path)
    {
        var relative = _location.RelativePath(_location.KeyFor(path));
        var dir = Path.GetDirectoryName(relative.Replace('/', Path.DirectorySeparatorChar));
        var scratch = string.IsNullOrEmpty(dir) ? _scratchRoot : Path.Combine(_scratchRoot, dir);
        Directory.CreateDirectory(scratch);
        return scratch;
    }

    public void Dispose()
    {
        _client.Dispose();
        try
        {
            if (Directory.Exists(_scratchRoot)) Directory.Delete(_scratchRoot, recursive: true);
            // The per-root parent is shared with other instances: remove it only when empty.
            var parent = Path.GetDirectoryName(_scratchRoot)!;
            if (Directory.Exists(parent) && !Directory.EnumerateFileSystemEntries(parent).Any()) Directory.Delete(parent);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    private async Task PutSingleAsync(string key, Stream content, byte[] md5, CancellationToken cancellationToken)
    {
        var request = new PutObjectRequest
        {
            BucketName = Bucket,
            Key = key,
            InputStream = content,
            AutoCloseStream = false,
            MD5Digest = Convert.ToBase64String(md5),
            UseChunkEncoding = false,
        };
        PutObjectResponse response;
        try
        {
            response = await _client.PutObjectAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (S3Errors.ShouldWrap(ex, cancellationToken))
        {
            throw S3Errors.Wrap(ex, "PutObject", Bucket, key, _settings);
        }
        // Servers that ignore Content-MD5 (s3rver) still return the MD5 as ETag for plain PUTs.
        await CheckEtagAsync("PutObject", key, response.ETag, Convert.ToHexStringLower(md5), EtagIsMd5(response.ServerSideEncryptionMethod, response.ServerSideEncryptionCustomerMethod)).ConfigureAwait(false);
    }

    private async Task PutMultipartAsync(string key, string localFile, long length, CancellationToken cancellationToken)
    {
        var partSize = (long)PartSize;
        if ((length + partSize - 1) / partSize > MaxParts)
        {
            // Grow the part size in whole MiB so the file fits in 10 000 parts.
            const long mib = 1024 * 1024;
            partSize = ((length + MaxParts - 1) / MaxParts + mib - 1) / mib * mib;
        }

        string uploadId;
        try
        {
            var initiated = await _client.InitiateMultipartUploadAsync(new InitiateMultipartUploadRequest { BucketName = Bucket, Key = key }, cancellationToken).ConfigureAwait(false);
            uploadId = initiated.UploadId;
        }
        catch (Exception ex) when (S3Errors.ShouldWrap(ex, cancellationToken))
        {
            throw S3Errors.Wrap(ex, "InitiateMultipartUpload", Bucket, key, _settings);
        }

        var completed = false;
        try
        {
            var parts = new List<PartETag>();
            using var whole = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
            using var partMd5s = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
            var buffer = new byte[(int)Math.Min(partSize, length)];
            await using (var fs = new FileStream(localFile, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan))
            {
                var partNumber = 0;
                for (long offset = 0; offset < length; offset += partSize)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    partNumber++;
                    var size = (int)Math.Min(partSize, length - offset);
                    await fs.ReadExactlyAsync(buffer.AsMemory(0, size), cancellationToken).ConfigureAwait(false);
                    var md5 = MD5.HashData(buffer.AsSpan(0, size));
                    whole.AppendData(buffer, 0, size);
                    partMd5s.AppendData(md5);
                    var etag = await UploadPartAsync(key, uploadId, partNumber, buffer, size, md5, offset + size >= length, cancellationToken).ConfigureAwait(false);
                    parts.Add(new PartETag { PartNumber = partNumber, ETag = etag });
                    if (PartUploaded is not null) await PartUploaded(partNumber).ConfigureAwait(false);
                }
            }
            cancellationToken.ThrowIfCancellationRequested();

            CompleteMultipartUploadResponse response;
            try
            {
                response = await _client.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
                {
                    BucketName = Bucket,
                    Key = key,
                    UploadId = uploadId,
                    PartETags = parts,
                }, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (S3Errors.ShouldWrap(ex, cancellationToken))
            {
                throw S3Errors.Wrap(ex, "CompleteMultipartUpload", Bucket, key, _settings);
            }
            completed = true;
            // S3 answers md5(part md5s)-N; simpler servers (s3rver) the MD5 of the whole object. Either proves the bytes.
            var etagValue = response.ETag?.Trim('"') ?? "";
            var expected = etagValue.Contains('-', StringComparison.Ordinal)
                ? $"{Convert.ToHexStringLower(partMd5s.GetHashAndReset())}-{parts.Count}"
                : Convert.ToHexStringLower(whole.GetHashAndReset());
            await CheckEtagAsync("CompleteMultipartUpload", key, response.ETag, expected, EtagIsMd5(response.ServerSideEncryptionMethod, null)).ConfigureAwait(false);
        }
        catch (Exception) when (!completed)
        {
            await AbortAsync(key, uploadId).ConfigureAwait(false);
            throw;
        }
    }

    private async Task<string> UploadPartAsync(string key, string uploadId, int partNumber, byte[] buffer, int size, byte[] md5, bool isLast, CancellationToken cancellationToken)
    {
        using var body = new MemoryStream(buffer, 0, size, writable: false);
        UploadPartResponse response;
        try
        {
            response = await _client.UploadPartAsync(new UploadPartRequest
            {
                BucketName = Bucket,
                Key = key,
                UploadId = uploadId,
                PartNumber = partNumber,
                InputStream = body,
                PartSize = size,
                IsLastPart = isLast,
                MD5Digest = Convert.ToBase64String(md5),
                UseChunkEncoding = false,
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (S3Errors.ShouldWrap(ex, cancellationToken))
        {
            throw S3Errors.Wrap(ex, $"UploadPart {partNumber}", Bucket, key, _settings);
        }
        // Not yet visible: a mismatch throws and the caller aborts the upload.
        if (!EtagMatches(response.ETag, Convert.ToHexStringLower(md5), EtagIsMd5(response.ServerSideEncryptionMethod, response.SSECustomerAlgorithm)))
            throw EtagMismatch($"UploadPart {partNumber}", key, response.ETag, Convert.ToHexStringLower(md5));
        return response.ETag;
    }

    private async Task AbortAsync(string key, string uploadId)
    {
        // Not the caller's token: a cancelled upload must still be aborted.
        using var cts = new CancellationTokenSource(AbortTimeout);
        try
        {
            await _client.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = Bucket, Key = key, UploadId = uploadId }, cts.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (S3Errors.ShouldWrap(ex, cts.Token) || ex is OperationCanceledException)
        {
            // Best effort: the object never became visible; RemoveStaleTempsAsync (or a bucket lifecycle rule)
            // removes the orphaned parts later. The original failure is what the caller needs to see.
            Interlocked.Increment(ref _failedAborts);
        }
    }

    private async Task<int> AbortStaleUploadsAsync(string folder, CancellationToken cancellationToken)
    {
        if (MultipartListingUnsupported) return 0;
        var aborted = 0;
        string? keyMarker = null, uploadIdMarker = null;
        while (true)
        {
            ListMultipartUploadsResponse page;
            try
            {
                page = await _client.ListMultipartUploadsAsync(new ListMultipartUploadsRequest
                {
                    BucketName = Bucket,
                    Prefix = folder,
                    KeyMarker = keyMarker,
                    UploadIdMarker = uploadIdMarker,
                }, cancellationToken).ConfigureAwait(false);
            }
            catch (AmazonS3Exception ex) when (ex.ErrorCode == "NotImplemented" || ex.StatusCode == HttpStatusCode.NotImplemented)
            {
                Interlocked.Exchange(ref _multipartListingUnsupported, 1);
                return aborted;
            }
            catch (Exception ex) when (S3Errors.ShouldWrap(ex, cancellationToken))
            {
                throw S3Errors.Wrap(ex, "ListMultipartUploads", Bucket, folder, _settings);
            }
            foreach (var upload in page.MultipartUploads ?? [])
            {
                await AbortAsync(upload.Key, upload.UploadId).ConfigureAwait(false);
                aborted++;
            }
            if (page.IsTruncated != true) return aborted;
            keyMarker = page.NextKeyMarker;
            uploadIdMarker = page.NextUploadIdMarker;
        }
    }

    private async Task<int> DeleteBatchAsync(string[] keys, CancellationToken cancellationToken)
    {
        DeleteObjectsResponse response;
        try
        {
            response = await _client.DeleteObjectsAsync(new DeleteObjectsRequest
            {
                BucketName = Bucket,
                Objects = keys.Select(k => new KeyVersion { Key = k }).ToList(),
                Quiet = false,
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (S3Errors.ShouldWrap(ex, cancellationToken))
        {
            throw S3Errors.Wrap(ex, "DeleteObjects", Bucket, keys[0], _settings);
        }
        var errors = response.DeleteErrors ?? [];
        if (errors.Count > 0)
        {
            var first = errors[0];
            throw new S3StoreException(
                $"S3 DeleteObjects failed for s3://{Bucket}/{first.Key}: {first.Code} ({errors.Count} of {keys.Length} keys not deleted)",
                Bucket, first.Key, first.Code, null, isTransient: first.Code is "SlowDown" or "InternalError" or "ServiceUnavailable", inner: null);
        }
        return keys.Length;
    }

    private async IAsyncEnumerable<S3Object> ListObjectsAsync(string keyPrefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        string? token = null;
        do
        {
            ListObjectsV2Response page;
            try
            {
                page = await _client.ListObjectsV2Async(new ListObjectsV2Request
                {
                    BucketName = Bucket,
                    Prefix = keyPrefix.Length == 0 ? null : keyPrefix,
                    ContinuationToken = token,
                    MaxKeys = ListPageSize,
                }, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (S3Errors.ShouldWrap(ex, cancellationToken))
            {
                throw S3Errors.Wrap(ex, "ListObjectsV2", Bucket, keyPrefix, _settings);
            }
            foreach (var obj in page.S3Objects ?? [])
            {
                // Zero-byte "folder" markers made by consoles are not files.
                if (obj.Key.EndsWith('/')) continue;
                yield return obj;
            }
            token = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (token is not null);
    }

    /// <summary>For an object that is already visible: on a mismatch, delete it so no wrong bytes stay under the final name, then throw.</summary>
    private async Task CheckEtagAsync(string operation, string key, string? etag, string expected, bool etagIsMd5)
    {
        if (EtagMatches(etag, expected, etagIsMd5)) return;
        await DeleteAsync(_location.RelativePath(key), CancellationToken.None).ConfigureAwait(false);
        throw EtagMismatch(operation, key, etag, expected);
    }

    private static bool EtagMatches(string? etag, string expected, bool etagIsMd5) =>
        !etagIsMd5 || string.IsNullOrEmpty(etag) || string.Equals(etag.Trim('"'), expected, StringComparison.OrdinalIgnoreCase);

    private S3StoreException EtagMismatch(string operation, string key, string? etag, string expected) =>
        new($"S3 {operation} failed for s3://{Bucket}/{key}: ETagMismatch: ETag {etag?.Trim('"')} is not the MD5 {expected} of the bytes sent",
            Bucket, key, "ETagMismatch", null, isTransient: true, inner: null);

    // With SSE-KMS or SSE-C the ETag is not the MD5 of the content; S3 then relies on Content-MD5 alone.
    private static bool EtagIsMd5(ServerSideEncryptionMethod? sse, string? customerAlgorithm) =>
        string.IsNullOrEmpty(customerAlgorithm)
        && (sse is null || sse == ServerSideEncryptionMethod.None || sse == ServerSideEncryptionMethod.AES256);
}
