// Mustang's validator on several files in one JVM (a JVM start and Mustang's warm-up cost
// more than a validation): the same call and the same verdict as
// ../shared/validators/facturx/MustangValidate.java, once per file, each report framed.
import org.mustangproject.validator.ZUGFeRDValidator;

public class MustangBatch {
    public static void main(String[] args) {
        for (String path : args) {
            String report = new ZUGFeRDValidator().validate(path);
            boolean invalid = report.contains("status=\"invalid\"");
            System.out.println("=== begin " + path);
            System.out.println(report);
            System.out.println("=== end " + (invalid ? "invalid" : "valid"));
        }
    }
}
