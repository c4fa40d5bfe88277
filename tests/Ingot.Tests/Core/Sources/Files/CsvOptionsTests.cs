using Ingot.Config;
using Ingot.Sources.Files;

namespace Ingot.Tests.Core.Sources.Files;

public sealed class CsvOptionsTests
{
    [Fact]
    public void New_Defaults_CommaHeaderUtf8()
    {
        // When
        var options = new CsvOptions();

        // Then
        options.Delimiter.ShouldBe(',');
        options.Header.ShouldBeTrue();
        options.Encoding.ShouldBe("utf-8");
    }

    [Theory]
    [InlineData("UTF8", "utf-8")]
    [InlineData("Latin-1", "latin1")]
    [InlineData("iso-8859-1", "latin1")]
    [InlineData("CP1252", "windows-1252")]
    public void Encoding_KnownName_ReadsBackCanonical(string name, string canonical)
    {
        // When
        var options = new CsvOptions { Encoding = name };

        // Then
        options.Encoding.ShouldBe(canonical);
    }

    [Fact]
    public void Encoding_Unsupported_ThrowsConfigExceptionListingTheSupported()
    {
        // When
        var set = () => new CsvOptions { Encoding = "utf-16" };

        // Then
        set.ShouldThrow<ConfigException>().Message.ShouldBe("csv encoding 'utf-16' is not supported: use utf-8, latin1 (iso-8859-1) or windows-1252");
    }

    [Theory]
    [InlineData('"')]
    [InlineData('\n')]
    [InlineData('a')]
    [InlineData('7')]
    [InlineData('§')]
    public void Delimiter_Unusable_ThrowsConfigException(char delimiter)
    {
        // When
        var set = () => new CsvOptions { Delimiter = delimiter };

        // Then
        set.ShouldThrow<ConfigException>().Message.ShouldStartWith("csv delimiter ");
    }
}
