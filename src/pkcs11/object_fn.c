/*
 * Object management functions (PKCS#11 3.0 §5.7): marshalling onto the
 * core's object functions (core/sess_object.c keeps the rules, the session
 * objects and the searches).
 */
#include "pkcs11/p11.h"

P11_EXPORT CK_RV C_CreateObject(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate,
                                CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phObject)
{
    tcore_session *s;
    CK_RV rv = p11_begin(hSession, &s);
    if (rv != CKR_OK)
        return rv;
    return p11_end(s, tcore_object_create(s, pTemplate, ulCount, phObject), __func__);
}

P11_EXPORT CK_RV C_CopyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                              CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount,
                              CK_OBJECT_HANDLE_PTR phNewObject)
{
    tcore_session *s;
    CK_RV rv = p11_begin(hSession, &s);
    if (rv != CKR_OK)
        return rv;
    return p11_end(s, tcore_object_copy(s, hObject, pTemplate, ulCount, phNewObject), __func__);
}

P11_EXPORT CK_RV C_DestroyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject)
{
    tcore_session *s;
    CK_RV rv = p11_begin(hSession, &s);
    if (rv != CKR_OK)
        return rv;
    return p11_end(s, tcore_object_destroy(s, hObject), __func__);
}

P11_EXPORT CK_RV C_GetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                                     CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
    tcore_session *s;
    CK_RV rv = p11_begin(hSession, &s);
    if (rv != CKR_OK)
        return rv;
    return p11_end(s, tcore_object_get_attrs(s, hObject, pTemplate, ulCount), __func__);
}

P11_EXPORT CK_RV C_SetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                                     CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
    tcore_session *s;
    CK_RV rv = p11_begin(hSession, &s);
    if (rv != CKR_OK)
        return rv;
    return p11_end(s, tcore_object_set_attrs(s, hObject, pTemplate, ulCount), __func__);
}

P11_EXPORT CK_RV C_GetObjectSize(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                                 CK_ULONG_PTR pulSize)
{
    tcore_session *s;
    CK_RV rv = p11_begin(hSession, &s);
    if (rv != CKR_OK)
        return rv;
    return p11_end(s, tcore_object_size(s, hObject, pulSize), __func__);
}

P11_EXPORT CK_RV C_FindObjectsInit(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate,
                                   CK_ULONG ulCount)
{
    tcore_session *s;
    CK_RV rv = p11_begin(hSession, &s);
    if (rv != CKR_OK)
        return rv;
    return p11_end(s, tcore_find_init(s, pTemplate, ulCount), __func__);
}

P11_EXPORT CK_RV C_FindObjects(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE_PTR phObject,
                               CK_ULONG ulMaxObjectCount, CK_ULONG_PTR pulObjectCount)
{
    tcore_session *s;
    CK_RV rv = p11_begin(hSession, &s);
    if (rv != CKR_OK)
        return rv;
    return p11_end(s, tcore_find(s, phObject, ulMaxObjectCount, pulObjectCount), __func__);
}

P11_EXPORT CK_RV C_FindObjectsFinal(CK_SESSION_HANDLE hSession)
{
    tcore_session *s;
    CK_RV rv = p11_begin(hSession, &s);
    if (rv != CKR_OK)
        return rv;
    return p11_end(s, tcore_find_final(s), __func__);
}
