using Ingot.Tests.Infrastructure;

namespace Ingot.Tests.EndToEnd;

/// <summary>The files source over an <c>s3://</c> drop prefix (s3rver), through the built <c>ingot</c>.</summary>
public sealed class FilesOnS3Tests(S3rverFixture s3) : IClassFixture<S3rverFixture>
{
    [Fact]
    public async Task Run_DropsInABucket_EachFileOnceThenAChangedObjectLandsAsANewVersion()
    {
        // Given a CSV (BOM, quoted newline) and a JSON array as objects under an s3:// prefix
        var ct = TestContext.Current.CancellationToken;
        var root = s3.NewRoot("drops");
        using var store = new Ingot.S3.S3BlobStore(root, s3.StoreOptions());
        await store.WriteAsync("in/people.csv", (byte[])[0xEF, 0xBB, 0xBF, .. "id,name,note\n1,Ann,\"two\nlines\"\n2,Bob,plain\n"u8.ToArray()], ct);
        await store.WriteAsync("in/sub/items.json", """[{"k":1},{"k":2},{"k":3}]"""u8.ToArray(), ct);
        using var ws = new Workspace();
        var pipeline = ws.Write("drops.yaml", $"""
            name: s3drops
            source:
              type: files
              path: {root}/in
              stream: drops
              endpoint: {s3.Endpoint}
              region: us-east-1
              path_style: true
              access_key: {s3.AccessKey}
              secret_key: ${"{"}TEST_S3_SECRET{"}"}
            destinations:
              - type: parquet
                path: ./lake
            """);
        var env = new Dictionary<string, string> { ["TEST_S3_SECRET"] = s3.SecretKey };

        // When it runs, and again
        var first = await IngotProcess.RunAsync(ws.Dir, env, "run", pipeline);
        var again = await IngotProcess.RunAsync(ws.Dir, env, "run", pipeline);

        // Then every record of both objects landed once (a unit per object version), and the re-run lands nothing
        first.ExitCode.ShouldBe(0, first.Stdout + first.Stderr);
        first.Summary.GetProperty("chunks_done").GetInt32().ShouldBe(2);
        EngineV2Tests.ParquetRows(ws.Lake, "s3drops").ShouldBe(5);
        EngineV2Tests.ParquetRows(ws.Lake, "s3drops", "count(*) FILTER (WHERE note = 'two\nlines')").ShouldBe(1);
        again.Summary.GetProperty("chunks_done").GetInt32().ShouldBe(0);

        // When one object changes: it lands again as a new version, the other is skipped
        await store.WriteAsync("in/sub/items.json", """[{"k":1},{"k":2},{"k":3},{"k":4}]"""u8.ToArray(), ct);
        var changed = await IngotProcess.RunAsync(ws.Dir, env, "run", pipeline);
        changed.ExitCode.ShouldBe(0, changed.Stdout + changed.Stderr);
        changed.Summary.GetProperty("chunks_done").GetInt32().ShouldBe(1);
        changed.Summary.GetProperty("chunks_skipped").GetInt32().ShouldBe(1);
        EngineV2Tests.ParquetRows(ws.Lake, "s3drops", "count(*) FILTER (WHERE k IS NOT NULL)").ShouldBe(7);
        (first.Stdout + changed.Stdout).ShouldNotContain(s3.SecretKey);
    }
}
