using System.Text;
using Ingot.Config;
using Ingot.Records;
using Ingot.Tests.Infrastructure;

namespace Ingot.Tests.Core.Records;

public sealed class RecordValidatorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ingot-validator-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private async Task<string> SchemaFile(string json, string name = "schema.json")
    {
        var path = Path.Combine(_dir, name);
        await File.WriteAllTextAsync(path, json, TestContext.Current.CancellationToken);
        return path;
    }

    private async Task<RecordValidator> Load(string json) =>
        await RecordValidator.LoadAsync(await SchemaFile(json), TestContext.Current.CancellationToken);

    private static IReadOnlyList<string> Validate(RecordValidator validator, string record) =>
        validator.Validate(Encoding.UTF8.GetBytes(record));

    [Fact]
    public async Task Validate_RecordBreakingConst_IsInvalid()
    {
        // Given a 2020-12 schema (no $schema) that fixes a field's value
        var validator = await Load("""{"type":"object","properties":{"kind":{"const":"precip"}}}""");

        // When a record carries another value
        var errors = Validate(validator, """{"kind":"temp"}""");

        // Then it is invalid, and the error names the field and the expected value as text (not JSON-escaped)
        errors.ShouldHaveSingleItem().ShouldStartWith("#/kind: ");
        errors[0].ShouldContain("\"precip\"");
        errors[0].ShouldNotContain("\\u0022");
        Validate(validator, """{"kind":"precip"}""").ShouldBeEmpty();
    }

    [Fact]
    public async Task Validate_RecordBreakingPrefixItems_IsInvalid()
    {
        // Given a tuple schema: a string, then a number
        var validator = await Load("""{"type":"array","prefixItems":[{"type":"string"},{"type":"number"}]}""");

        // When the second item is a string
        var errors = Validate(validator, """["COOP:010008","high"]""");

        // Then the second item is the one reported
        errors.ShouldHaveSingleItem().ShouldStartWith("#/1: ");
        errors[0].ShouldContain("number");
    }

    [Fact]
    public async Task Validate_RecordBreakingUnevaluatedProperties_IsInvalid()
    {
        // Given a schema whose properties come from allOf and that allows no others
        var validator = await Load("""
            {"allOf":[{"properties":{"station":{"type":"string"}}}],"properties":{"value":{"type":"number"}},"unevaluatedProperties":false}
            """);

        // When a record has a field neither part evaluates
        var errors = Validate(validator, """{"station":"COOP:010008","value":1.5,"extra":true}""");

        // Then only that field is reported, as not allowed
        errors.ShouldBe(["#/extra: not allowed by #/unevaluatedProperties"]);
        Validate(validator, """{"station":"COOP:010008","value":1.5}""").ShouldBeEmpty();
    }

    [Fact]
    public async Task Validate_RecordBreakingDependentRequired_IsInvalid()
    {
        // Given a schema naming 2020-12 where a value needs its unit
        var validator = await Load("""{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","dependentRequired":{"value":["unit"]}}""");

        // When a record has the value without the unit
        var errors = Validate(validator, """{"value":1.5}""");

        // Then the missing dependency is named
        errors.ShouldHaveSingleItem().ShouldStartWith("#: ");
        errors[0].ShouldContain("unit");
        Validate(validator, """{"value":1.5,"unit":"mm"}""").ShouldBeEmpty();
        Validate(validator, "{}").ShouldBeEmpty();
    }

    [Fact]
    public async Task Validate_Draft07Schema_RequiredTypeAndEnumAreChecked()
    {
        // Given a draft-07 schema
        var validator = await Load("""
            {"$schema":"http://json-schema.org/draft-07/schema#","type":"object","required":["station","datatype"],
             "properties":{"station":{"type":"string"},"datatype":{"enum":["QPCP","QGAG"]},"value":{"type":"number"}}}
            """);

        // When a record lacks a required field, has a value outside the enum and one of the wrong type
        var errors = Validate(validator, """{"datatype":"TMAX","value":"1.5"}""");

        // Then each failure is reported at its place
        errors.Count.ShouldBe(3, string.Join("; ", errors));
        errors.ShouldContain(e => e.StartsWith("#: ", StringComparison.Ordinal) && e.Contains("station", StringComparison.Ordinal));
        errors.ShouldContain(e => e.StartsWith("#/datatype: ", StringComparison.Ordinal));
        errors.ShouldContain(e => e.StartsWith("#/value: ", StringComparison.Ordinal) && e.Contains("number", StringComparison.Ordinal));
        Validate(validator, """{"station":"COOP:010008","datatype":"QPCP","value":1.5}""").ShouldBeEmpty();
    }

    [Fact]
    public async Task Validate_Draft07Schema_LaterKeywordsAreNotApplied()
    {
        // Given a draft-07 schema using a keyword that only 2020-12 defines
        var validator = await Load("""{"$schema":"http://json-schema.org/draft-07/schema#","type":"array","prefixItems":[{"type":"string"}]}""");

        // When a record would break it under 2020-12
        var errors = Validate(validator, "[1]");

        // Then the dialect the schema names decides: draft-07 has no prefixItems
        errors.ShouldBeEmpty();
    }

    [Fact]
    public async Task Validate_ValidRecord_NoErrors()
    {
        // Given the shipped NOAA record schema (draft-07)
        var schema = Path.Combine(S3rverFixture.FindRepoRoot(), "schemas", "noaa-precip15-record.json");
        var validator = await RecordValidator.LoadAsync(schema, TestContext.Current.CancellationToken);

        // When a record that fits it is validated
        var errors = Validate(validator, """
            {"date":"2024-01-01T00:15:00","datatype":"QPCP","station":"COOP:010008","attributes":["","","C"],"value":0.1,"date_ms":1704068100000}
            """);

        // Then there is nothing to report
        errors.ShouldBeEmpty();
    }

    [Fact]
    public async Task Validate_KnownFormat_IsAsserted()
    {
        // Given a 2020-12 schema with a known format and one the validator does not know
        var validator = await Load("""{"properties":{"at":{"format":"date-time"},"n":{"format":"int64"}}}""");

        // When a record breaks the known one
        var errors = Validate(validator, """{"at":"yesterday","n":"x"}""");

        // Then the known format is checked, the unknown one stays an annotation
        errors.ShouldHaveSingleItem().ShouldStartWith("#/at: ");
        Validate(validator, """{"at":"2024-01-01T00:15:00Z","n":"x"}""").ShouldBeEmpty();
    }

    [Fact]
    public async Task Validate_NotAndOneOf_InvalidRecordsAlwaysHaveAReason()
    {
        // Given keywords that fail without a message of their own
        var validator = await Load("""
            {"properties":{"code":{"not":{"const":"X"}},"v":{"oneOf":[{"type":"number"},{"minimum":0}]}}}
            """);

        // When a record breaks each
        var errors = Validate(validator, """{"code":"X","v":1}""");

        // Then each is still reported at its place (an empty list would mean valid)
        errors.Count.ShouldBe(2, string.Join("; ", errors));
        errors.ShouldContain(e => e.StartsWith("#/code: ", StringComparison.Ordinal) && e.Contains("not", StringComparison.Ordinal));
        errors.ShouldContain(e => e.StartsWith("#/v: ", StringComparison.Ordinal) && e.Contains("oneOf", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Validate_RefToSiblingFile_IsResolved()
    {
        // Given a schema whose field refers to a schema in the file next to it
        await SchemaFile("""{"type":"string","pattern":"^COOP:[0-9]{6}$"}""", "station.json");
        var validator = await Load("""{"properties":{"station":{"$ref":"station.json"}}}""");

        // When a record breaks the referenced schema
        var errors = Validate(validator, """{"station":"KNMI:260"}""");

        // Then it is reported at the field
        errors.ShouldHaveSingleItem().ShouldStartWith("#/station: ");
    }

    [Fact]
    public async Task Validate_NotJson_IsInvalid()
    {
        var validator = await Load("""{"type":"object"}""");

        var errors = Validate(validator, """{"station":""");

        errors.ShouldHaveSingleItem().ShouldStartWith("#: not valid JSON");
    }

    [Theory]
    [InlineData("""{"type":"object",""", "not valid JSON")]
    [InlineData("""{"type":"strnig"}""", "strnig")]
    [InlineData("""{"properties":{"station":{"pattern":"[unclosed"}}}""", "[unclosed")]
    [InlineData("""{"properties":{"station":{"$ref":"missing.json"}}}""", "missing.json")]
    [InlineData("""{"$schema":"http://json-schema.org/draft-04/schema#","type":"object"}""", "draft-04")]
    [InlineData("""[{"type":"object"}]""", "array")]
    public async Task LoadAsync_BrokenSchema_ConfigExceptionNamesTheFile(string schema, string reason)
    {
        // Given a schema file that is not a usable schema
        var path = await SchemaFile(schema);

        // When it is loaded
        var e = await Should.ThrowAsync<ConfigException>(() => RecordValidator.LoadAsync(path, TestContext.Current.CancellationToken));

        // Then the error names the file and why
        e.Message.ShouldStartWith($"{path}: ");
        e.Message.ShouldContain(reason);
    }
}
