using Ingot.Config;

namespace Ingot.Tests.Core.Config;

public sealed class IngotSettingsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ingot-settings-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string WriteDotEnv(params string[] lines)
    {
        var path = Path.Combine(_dir, ".env");
        File.WriteAllLines(path, lines);
        return path;
    }

    [Fact]
    public void ReadDotEnv_MissingFile_ReturnsEmpty()
    {
        // When
        var values = IngotSettings.ReadDotEnv(Path.Combine(_dir, ".env"));

        // Then
        values.ShouldBeEmpty();
    }

    [Fact]
    public void ReadDotEnv_CommentsBlankLinesQuotesAndExport_ReadsValues()
    {
        // Given
        var path = WriteDotEnv(
            "# a comment",
            "",
            "   # an indented comment",
            "PLAIN=value",
            "SPACED = spaced value ",
            "DOUBLE=\"double # not a comment\"",
            "SINGLE='single'",
            "export EXPORTED=yes",
            "EMPTY=",
            "URL=https://x.test/?a=b",
            "HALF=\"unclosed");

        // When
        var values = IngotSettings.ReadDotEnv(path);

        // Then
        values.ShouldBe(new Dictionary<string, string>
        {
            ["PLAIN"] = "value",
            ["SPACED"] = "spaced value",
            ["DOUBLE"] = "double # not a comment",
            ["SINGLE"] = "single",
            ["EXPORTED"] = "yes",
            ["EMPTY"] = "",
            ["URL"] = "https://x.test/?a=b",
            ["HALF"] = "\"unclosed",
        }, ignoreOrder: true);
    }

    [Fact]
    public void ReadDotEnv_RepeatedKey_LastWins()
    {
        // Given
        var path = WriteDotEnv("A=1", "A=2");

        // When
        var values = IngotSettings.ReadDotEnv(path);

        // Then
        values["A"].ShouldBe("2");
    }

    [Theory]
    [InlineData("NOT A PAIR")]
    [InlineData("=value")]
    public void ReadDotEnv_MalformedLine_FailsWithLineNumber(string bad)
    {
        // Given
        var path = WriteDotEnv("# header", "GOOD=1", bad);

        // When
        var e = Should.Throw<ConfigException>(() => IngotSettings.ReadDotEnv(path));

        // Then
        (e.Line, e.Column).ShouldBe((3L, 1L));
        e.Message.ShouldBe($"{path}:3:1: expected KEY=VALUE");
    }

    [Fact]
    public void Load_VariableInEnvironmentAndDotEnv_EnvironmentWins()
    {
        // Given: process-wide variables with names no other test uses
        var both = $"INGOT_TEST_BOTH_{Guid.NewGuid():N}";
        var fileOnly = $"INGOT_TEST_FILE_{Guid.NewGuid():N}";
        WriteDotEnv($"{both}=from-file", $"{fileOnly}=file-only");
        Environment.SetEnvironmentVariable(both, "from-environment");
        try
        {
            // When
            var settings = IngotSettings.Load(_dir);

            // Then
            settings.Environment(both).ShouldBe("from-environment");
            settings.Environment(fileOnly).ShouldBe("file-only");
            settings.Environment($"INGOT_TEST_NONE_{Guid.NewGuid():N}").ShouldBeNull();
        }
        finally
        {
            Environment.SetEnvironmentVariable(both, null);
        }
    }
}
